package dev.wush.quant.pipeline;

import dev.wush.quant.transform.TransformKind;
import java.util.Map;

/**
 * What happened to one linear.
 *
 * @param name its path, e.g. {@code model.layers.2.mlp.up_proj}
 * @param transform the transform it got
 * @param reason why (fixed by the configuration, the adaptive selector's evidence)
 * @param error normalised output error on calibration inputs, W4A4 (or W4A16) as configured
 * @param candidates errors of every candidate (adaptive:error), else empty
 * @param seconds time spent quantizing it
 */
public record LayerReport(String name, TransformKind transform, String reason, double error,
        Map<String, Double> candidates, double seconds) {}
