package dev.wush.zoo.quant;

import dev.wush.quant.format.QuantFormat;
import dev.wush.quant.transform.TransformKind;
import java.util.function.Predicate;

/**
 * What to quantize and how.
 *
 * @param format weights and activations share it (W4A4)
 * @param method RTN or GPTQ
 * @param transform the transform of every layer (a fixed kind; adaptive choice is {@link TransformChoice})
 * @param quantizeActivations W4A4 when true (default), W4A16 when false
 * @param layers which linears (by path) to quantize; embeddings and lm_head are never linears of a
 *     decoder block
 * @param seed seed of random rotations
 * @param errorRows calibration rows kept per linear to measure its output error
 */
public record QuantizationConfig(QuantFormat format, QuantMethod method, TransformChoice transform,
        boolean quantizeActivations, Predicate<String> layers, long seed, int errorRows) {

    /** All seven linears of every block, W4A4, seed 0. */
    public static QuantizationConfig of(QuantFormat format, QuantMethod method, TransformKind kind) {
        return new QuantizationConfig(format, method, TransformChoice.fixed(kind), true, path -> true, 0, 4096);
    }
}
