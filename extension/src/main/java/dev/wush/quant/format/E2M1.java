package dev.wush.quant.format;

/**
 * FP4 E2M1 elements: magnitudes {0, 0.5, 1, 1.5, 2, 3, 4, 6}. A code is 4 bits: bit 3 the sign, bits
 * 0–2 the magnitude index. Encoding rounds to the nearest magnitude, ties to the even index, and
 * saturates at 6.
 */
public final class E2M1 {

    /** Magnitude of index 0..7. */
    private static final float[] MAGNITUDE = {0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f, 6f};

    /** Largest magnitude. */
    public static final float MAX = 6f;

    private E2M1() {}

    /** The 4-bit code of {@code x}: its sign bit (kept for values that round to 0) and magnitude index. */
    public static int encode(float x) {
        float a = Math.abs(x);
        // count the midpoints 0.25 0.75 1.25 1.75 2.5 3.5 5 below a; at a midpoint the even index wins
        // (strict > before an odd index, ≥ before an even one). Branch-free: activations are random.
        int m = (a > 0.25f ? 1 : 0) + (a >= 0.75f ? 1 : 0) + (a > 1.25f ? 1 : 0) + (a >= 1.75f ? 1 : 0)
                + (a > 2.5f ? 1 : 0) + (a >= 3.5f ? 1 : 0) + (a > 5f ? 1 : 0); // saturates at 7
        return Float.floatToRawIntBits(x) < 0 ? m | 8 : m; // the float's sign bit, -0.0 included
    }

    /**
     * {@code decode(encode(x))} without codes or branches. The grid step is 0.5 on [0, 2), 1 on [2, 4)
     * and 2 on [4, 6], i.e. {@code 1/k} with {@code k = 2^(1 − clamp(exponent(|x|), 0, 2))}; rounding
     * {@code |x|·k} half to even lands ties on the even code, and 6 caps the result.
     */
    public static float round(float x) {
        float a = Math.abs(x);
        int e = Math.max(0, Math.min(2, Math.getExponent(a)));
        float k = Float.intBitsToFloat((128 - e) << 23); // 2^(1-e)
        float v = Math.min((float) Math.rint(a * k) / k, MAX);
        return Math.copySign(v, x);
    }

    /** The value of a 4-bit code. */
    public static float decode(int code) {
        float v = MAGNITUDE[code & 7];
        return (code & 8) != 0 ? -v : v;
    }
}
