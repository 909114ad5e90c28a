/** Llama-family models as DJL blocks, their Hugging Face checkpoints (full precision and quantized) and their description for the quantization pipeline. */
package dev.wush.zoo.llama;
