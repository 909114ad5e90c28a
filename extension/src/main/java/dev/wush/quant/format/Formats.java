package dev.wush.quant.format;

import java.util.List;
import java.util.Locale;

/** Parses format names of the command line: mxfp4, mxfp4-ocp, nvfp4, nvfp4-tensor, int4, int4-mse. */
public final class Formats {

    /** The names {@link #parse} accepts. */
    public static final List<String> NAMES = List.of("mxfp4", "mxfp4-ocp", "nvfp4", "nvfp4-tensor", "int4", "int4-mse");

    private Formats() {}

    /**
     * The format of a name. {@code nvfp4-tensor} stands for the per-tensor global scale, which depends
     * on the tensor: it is returned with a global scale of 1 and set per tensor by the quantizer.
     */
    public static QuantFormat parse(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "mxfp4" -> Mxfp4.DEFAULT;
            case "mxfp4-ocp" -> new Mxfp4(Mxfp4.Rule.OCP);
            case "nvfp4" -> Nvfp4.FIXED;
            case "nvfp4-tensor" -> new Nvfp4(1f, false);
            case "int4" -> Int4.ABSMAX;
            case "int4-mse" -> Int4.GAUSSIAN;
            default -> throw new IllegalArgumentException("unknown format '" + name + "'; known: " + NAMES);
        };
    }

    /** The name {@link #parse} reads back for a format. */
    public static String label(QuantFormat format) {
        return switch (format) {
            case Mxfp4 mx -> mx.rule() == Mxfp4.Rule.OFFICIAL ? "mxfp4" : "mxfp4-ocp";
            case Nvfp4 nv -> nv.fixed() ? "nvfp4" : "nvfp4-tensor";
            case Int4 i -> i.clipping() == Int4.Clipping.ABSMAX ? "int4" : "int4-mse";
            default -> throw new IllegalArgumentException("no label for " + format);
        };
    }

    /** True for formats whose global scale depends on the tensor (per-tensor NVFP4). */
    public static boolean needsTensorScale(QuantFormat format) {
        return format instanceof Nvfp4 nv && !nv.fixed();
    }

    /** For a per-tensor NVFP4 format, the instance for a tensor of that AbsMax; other formats unchanged. */
    public static QuantFormat forTensor(QuantFormat format, float tensorAbsMax) {
        if (needsTensorScale(format)) {
            return Nvfp4.perTensor(tensorAbsMax);
        }
        return format;
    }
}
