package dev.wush.quant.pipeline;

import java.util.Locale;

/**
 * How the calibration hidden states are held between decoder blocks. Computation is float32 either way;
 * the 16-bit choices halve the states' memory (for Llama-3.1-8B, 128 windows of 2048 tokens are 4.3 GB in
 * float32) at the price of rounding each block's input once.
 */
public enum HiddenPrecision {
    /** As computed (the default). */
    FLOAT32("float32"),
    /** bfloat16: float32's range, 8 significant bits. */
    BFLOAT16("bf16"),
    /** IEEE half: 11 significant bits, but values beyond ±65504 overflow (an error, not a silent infinity). */
    FLOAT16("fp16");

    private final String label;

    HiddenPrecision(String label) {
        this.label = label;
    }

    /** The name used in options and reports: float32, bf16, fp16. */
    public String label() {
        return label;
    }

    /** float32 | fp32, bf16 | bfloat16, fp16 | f16 | float16 (any case). */
    public static HiddenPrecision parse(String s) {
        return switch (s.trim().toLowerCase(Locale.ROOT)) {
            case "float32", "fp32", "f32" -> FLOAT32;
            case "bf16", "bfloat16" -> BFLOAT16;
            case "fp16", "f16", "float16", "half" -> FLOAT16;
            default -> throw new IllegalArgumentException("hidden-state precision '" + s + "': use float32, bf16 or fp16");
        };
    }
}
