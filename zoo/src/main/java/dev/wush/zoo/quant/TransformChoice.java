package dev.wush.zoo.quant;

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
                    : java.util.Arrays.stream(arg.split(",")).map(String::trim).map(TransformKind::parse).toList());
            case "kurtosis" -> new ByKurtosis(arg == null ? 2.0 : Double.parseDouble(arg), TransformKind.HADAMARD, TransformKind.WUSH);
            default -> throw new IllegalArgumentException("unknown adaptive selector '" + name
                    + "'; use adaptive:kurtosis[=THRESHOLD] or adaptive:error[=identity,hadamard,wush]");
        };
    }
}
