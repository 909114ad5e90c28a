/** Quantizing whole models, knowing no model family: the configuration, transform choice, one-pass {@link dev.wush.quant.pipeline.BlockQuantizer} for any block tree, and the sequential {@link dev.wush.quant.pipeline.SequentialQuantizer} driven by a {@link dev.wush.quant.pipeline.DecoderArchitecture}. */
package dev.wush.quant.pipeline;
