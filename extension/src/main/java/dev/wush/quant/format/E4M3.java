package dev.wush.quant.format;

/**
 * FP8 E4M3 ("fn": no infinities): sign, 4 exponent bits (bias 7), 3 mantissa bits. Largest 448,
 * smallest normal 2^-6, subnormals m·2^-9. Encoding rounds to nearest even and saturates at ±448;
 * NaN encodes as 0x7F.
 */
public final class E4M3 {

    public static final float MAX = 448f;
    public static final int NAN = 0x7F;

    private E4M3() {}

    /** The 8-bit code of {@code x}. */
    public static int encode(float x) {
        if (Float.isNaN(x)) {
            return NAN;
        }
        int sign = x < 0 || (x == 0 && 1 / x < 0) ? 0x80 : 0;
        double a = Math.abs((double) x);
        int bits;
        if (a >= MAX) {
            bits = 0x7E; // saturate: 1.75 · 2^8
        } else if (a < 0x1p-6) {
            bits = (int) Math.rint(a * 512); // subnormal steps of 2^-9; 8 rounds up to the smallest normal
        } else {
            int e = Math.getExponent(a);
            int m = (int) Math.rint((a / Math.scalb(1.0, e) - 1) * 8);
            if (m == 8) {
                e++;
                m = 0;
            }
            bits = ((e + 7) << 3) | m;
            if (bits > 0x7E) {
                bits = 0x7E;
            }
        }
        return sign | bits;
    }

    /** The value of an 8-bit code. */
    public static float decode(int code) {
        int e = (code >> 3) & 0xF;
        int m = code & 7;
        if (e == 0xF && m == 7) {
            return Float.NaN;
        }
        float v = e == 0 ? m * 0x1p-9f : (1 + m / 8f) * Math.scalb(1f, e - 7);
        return (code & 0x80) != 0 ? -v : v;
    }
}
