/** The {@code wush} command line: quantize, eval, generate, layer-report, bench-quant, make-model, bench-scale. */
package dev.wush.cli;
