package dev.wush.quant.format;

/** bfloat16: the top 16 bits of a float32, rounded to nearest even. */
public final class Bf16 {

    private Bf16() {}

    /** The 16 bits of {@code x} rounded to bfloat16 (NaN stays NaN). */
    public static int encode(float x) {
        int bits = Float.floatToRawIntBits(x);
        if (Float.isNaN(x)) {
            return (bits >>> 16) | 0x40; // keep it a quiet NaN
        }
        return (bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16;
    }

    /** The float of 16 bfloat16 bits. */
    public static float decode(int bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** {@code x} rounded to the nearest bfloat16. */
    public static float round(float x) {
        return decode(encode(x));
    }
}
