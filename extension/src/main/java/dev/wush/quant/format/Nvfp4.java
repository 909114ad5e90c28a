package dev.wush.quant.format;

/**
 * NVFP4: groups of 16 E2M1 elements with an E4M3 scale, times a global scale {@code g}:
 * group scale {@code s = E4M3(amax / (6·g))}, element {@code x / (s·g)} rounded to E2M1, decoded as
 * {@code q · s · g}.
 *
 * <p>{@link #FIXED} uses the official WUSH code's constant {@code g = 1/10}
 * ({@code s = E4M3(amax·10/6)}); {@link #perTensor} takes the standard {@code g = amax_tensor / (448·6)}.
 */
public record Nvfp4(float globalScale, boolean fixed) implements E2M1Format {

    /** The official code's fixed global scale 1/10. */
    public static final Nvfp4 FIXED = new Nvfp4(0.1f, true);

    /** The standard per-tensor global scale for a tensor whose largest |x| is {@code tensorAbsMax}. */
    public static Nvfp4 perTensor(float tensorAbsMax) {
        float g = tensorAbsMax > 0 && Float.isFinite(tensorAbsMax) ? tensorAbsMax / (E4M3.MAX * E2M1.MAX) : 1f;
        return new Nvfp4(g, false);
    }

    @Override
    public String name() {
        return fixed ? "NVFP4" : "NVFP4-TENSOR";
    }

    @Override
    public int groupSize() {
        return 16;
    }

    @Override
    public int scaleCodeOfAbsMax(float amax) {
        if (!Float.isFinite(amax)) {
            return E4M3.NAN;
        }
        return E4M3.encode(amax / (E2M1.MAX * globalScale));
    }

    @Override
    public float scaleValue(int scaleCode) {
        return E4M3.decode(scaleCode) * globalScale;
    }
}
