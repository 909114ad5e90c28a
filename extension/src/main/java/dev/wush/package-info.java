/** WUSH quantization for DJL: library-wide {@link dev.wush.Settings}. */
package dev.wush;
