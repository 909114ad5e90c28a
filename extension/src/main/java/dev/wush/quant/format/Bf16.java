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

    /** {@code n} bfloat16 values from {@code bits[from…]} widened (exactly) into {@code out[at…]}. */
    public static void decode(short[] bits, int from, float[] out, int at, int n) {
        for (int k = 0; k < n; k++) {
            out[at + k] = Float.intBitsToFloat(bits[from + k] << 16); // the sign extension shifts out
        }
    }

    /** {@code n} floats from {@code in[from…]} rounded to bfloat16 bits into {@code bits[at…]}. */
    public static void encode(float[] in, int from, short[] bits, int at, int n) {
        for (int k = 0; k < n; k++) {
            bits[at + k] = (short) encode(in[from + k]);
        }
    }

    /** {@code x} rounded to the nearest bfloat16. */
    public static float round(float x) {
        return decode(encode(x));
    }
}
