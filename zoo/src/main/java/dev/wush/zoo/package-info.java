/** The {@code dev.wush} model zoo: Llama-family models through DJL's {@code Criteria}, local directories and the Hugging Face hub, quantization on load. */
package dev.wush.zoo;
