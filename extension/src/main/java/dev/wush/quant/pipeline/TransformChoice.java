package dev.wush.quant.pipeline;

import dev.wush.quant.transform.TransformKind;
import java.util.List;

/**
 * Which transform a layer gets: one fixed kind for all, or an adaptive selector (METHOD.md, "Adaptive
 * per-layer transform choice").
 */
public sealed interface TransformChoice {

    /** Every layer gets {@code kind}. */
    record Fixed(TransformKind kind) implements TransformChoice {}

    /** Per layer, quantize with every candidate and keep the one with the lowest calibration output error. */
    record ByError(List<TransformKind> candidates) implements TransformChoice {}

    /**
     * Per layer, the weight kurtosis, robust z-scored among layers of the same kind; z above the
     * threshold gets the outlier-suited transform, the rest the cheap one.
     */
    record ByKurtosis(double threshold, TransformKind cheap, TransformKind outlier) implements TransformChoice {}

    public static TransformChoice fixed(TransformKind kind) {
        return new Fixed(kind);
    }

    /** Parses {@code identity|hadamard|random|wus|wush|adaptive:kurtosis[=T]|adaptive:error[=a,b,c]}. */
    public static TransformChoice parse(String text) {
        if (!text.startsWith("adaptive:")) {
            return new Fixed(TransformKind.parse(text));
        }
        String rest = text.substring("adaptive:".length());
        String name = rest.contains("=") ? rest.substring(0, rest.indexOf('=')) : rest;
        String arg = rest.contains("=") ? rest.substring(rest.indexOf('=') + 1) : null;
        return switch (name) {
            case "error" -> new ByError(arg == null
                    ? List.of(TransformKind.IDENTITY, TransformKind.HADAMARD, TransformKind.WUSH)
                    : candidates(text, arg));
            case "kurtosis" -> new ByKurtosis(arg == null ? 2.0 : threshold(text, arg), TransformKind.HADAMARD, TransformKind.WUSH);
            default -> throw new IllegalArgumentException("unknown adaptive selector '" + name
                    + "'; use adaptive:kurtosis[=THRESHOLD] or adaptive:error[=identity,hadamard,wush]");
        };
    }

    /** A finite z-score threshold; NaN would send every layer to the cheap transform without a word. */
    private static double threshold(String text, String arg) {
        double z;
        try {
            z = Double.parseDouble(arg.trim());
        } catch (NumberFormatException e) {
            z = Double.NaN;
        }
        if (!Double.isFinite(z) || arg.isBlank()) {
            throw new IllegalArgumentException("transform '" + text + "': the kurtosis threshold must be a finite number"
                    + " (a robust z-score, default 2), got '" + arg + "'");
        }
        return z;
    }

    /** At least two distinct candidate kinds. */
    private static List<TransformKind> candidates(String text, String arg) {
        List<TransformKind> kinds = java.util.Arrays.stream(arg.split(",", -1)).map(String::trim).map(k -> {
            if (k.isEmpty()) {
                throw new IllegalArgumentException("transform '" + text + "': empty candidate in the list");
            }
            return TransformKind.parse(k);
        }).distinct().toList();
        if (kinds.size() < 2) {
            throw new IllegalArgumentException("transform '" + text + "': adaptive:error needs at least two different"
                    + " candidates, e.g. adaptive:error=identity,hadamard,wush");
        }
        return kinds;
    }
}
