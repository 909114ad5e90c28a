package dev.wush.quant.pipeline;

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
 * @param headFormat when not null, the LM head is quantized too, in this format with activations in
 *     full precision (W4A16), after the last block; null (the default) keeps it as it is
 */
public record QuantizationConfig(QuantFormat format, QuantMethod method, TransformChoice transform,
        boolean quantizeActivations, Predicate<String> layers, long seed, int errorRows, QuantFormat headFormat) {

    /** A configuration that leaves the LM head alone. */
    public QuantizationConfig(QuantFormat format, QuantMethod method, TransformChoice transform,
            boolean quantizeActivations, Predicate<String> layers, long seed, int errorRows) {
        this(format, method, transform, quantizeActivations, layers, seed, errorRows, null);
    }

    /** The same, with the LM head quantized in {@code head} (W4A16). */
    public QuantizationConfig withHead(QuantFormat head) {
        return new QuantizationConfig(format, method, transform, quantizeActivations, layers, seed, errorRows, head);
    }

    /**
     * How the LM head is quantized: its format, W4A16, and the transform choice (a data-free kurtosis
     * choice has no peers to rank one head among, so it gets WUSH).
     */
    QuantizationConfig forHead() {
        TransformChoice t = transform instanceof TransformChoice.ByKurtosis ? TransformChoice.fixed(TransformKind.WUSH) : transform;
        return new QuantizationConfig(headFormat, method, t, false, layers, seed, errorRows, null);
    }

    /** All seven linears of every block, W4A4, seed 0. */
    public static QuantizationConfig of(QuantFormat format, QuantMethod method, TransformKind kind) {
        return new QuantizationConfig(format, method, TransformChoice.fixed(kind), true, path -> true, 0, 4096);
    }
}
