/** One linear layer's quantization: RTN and GPTQ on transformed weights, Hessians, layer errors. */
package dev.wush.quant.layer;
