package dev.wush.quant.transform;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/** The per-block transforms offered (METHOD.md, "Transforms offered"). */
public enum TransformKind {
    IDENTITY("identity"),
    HADAMARD("hadamard"),
    RANDOM("random"),
    WUS("wus"),
    WUSH("wush");

    private final String label;

    TransformKind(String label) {
        this.label = label;
    }

    /** Name as written on the command line and in reports. */
    public String label() {
        return label;
    }

    /** True when the transform depends on the weights and activations of the layer. */
    public boolean isDataAware() {
        return this == WUS || this == WUSH;
    }

    /** True when the transform is orthogonal, so that its weight side equals itself. */
    public boolean isOrthogonal() {
        return !isDataAware();
    }

    /** Parses a label; {@code random-rotation} is accepted for {@code random}. */
    public static TransformKind parse(String text) {
        String s = text.toLowerCase(Locale.ROOT);
        if (s.equals("random-rotation")) {
            return RANDOM;
        }
        for (TransformKind k : values()) {
            if (k.label.equals(s)) {
                return k;
            }
        }
        throw new IllegalArgumentException("unknown transform '" + text + "'; known: " + labels());
    }

    /** All labels. */
    public static List<String> labels() {
        return Arrays.stream(values()).map(TransformKind::label).toList();
    }
}
