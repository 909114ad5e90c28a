package dev.wush.quant.format;

/** The MX shared scale: an unsigned byte {@code e}, value {@code 2^(e-127)}; 255 is NaN. */
public final class E8M0 {

    public static final int NAN = 255;

    private E8M0() {}

    /** The code of {@code 2^exponent}, clamped to the representable exponents −127..127. */
    public static int encodeExponent(int exponent) {
        return Math.clamp(exponent + 127L, 0, 254);
    }

    /** {@code 2^(code-127)}, or NaN for 255. */
    public static float decode(int code) {
        return code == NAN ? Float.NaN : Math.scalb(1f, code - 127);
    }

    /** {@code floor(log2 a)} for a finite a > 0, exact for subnormals too. */
    public static int floorLog2(float a) {
        int e = Math.getExponent(a);
        if (e >= Float.MIN_EXPONENT) {
            return e;
        }
        int mantissa = Float.floatToRawIntBits(a) & 0x7FFFFF; // subnormal: a = mantissa · 2^-149
        return -149 + (31 - Integer.numberOfLeadingZeros(mantissa));
    }
}
