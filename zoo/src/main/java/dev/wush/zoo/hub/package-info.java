/** Downloads from the Hugging Face hub into its standard cache, with resumable, verified transfers. */
package dev.wush.zoo.hub;
