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

    /** The 4-bit code of {@code x} (sign bit set for negative x, including values that round to 0). */
    public static int encode(float x) {
        float a = Math.abs(x);
        int m;
        // midpoints 0.25 0.75 1.25 1.75 2.5 3.5 5; at a midpoint the even index wins
        if (a <= 0.25f) {
            m = 0;
        } else if (a < 0.75f) {
            m = 1;
        } else if (a <= 1.25f) {
            m = 2;
        } else if (a < 1.75f) {
            m = 3;
        } else if (a <= 2.5f) {
            m = 4;
        } else if (a < 3.5f) {
            m = 5;
        } else if (a <= 5f) {
            m = 6;
        } else {
            m = 7; // saturate (NaN lands here too; formats carry NaN in the scale instead)
        }
        return x < 0 ? m | 8 : m;
    }

    /** The value of a 4-bit code. */
    public static float decode(int code) {
        float v = MAGNITUDE[code & 7];
        return (code & 8) != 0 ? -v : v;
    }
}
