/** The quantized replacement of a DJL {@code Linear}: {@link dev.wush.quant.block.WushLinear}. */
package dev.wush.quant.block;
