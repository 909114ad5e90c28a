/** Quantization formats of METHOD.md: MXFP4, NVFP4 and INT4 elements, scales and packing. */
package dev.wush.quant.format;
