package dev.wush.quant.format;

/**
 * A 4-bit group format: values are split into groups of {@link #groupSize()} along a row, every group
 * gets one scale (stored as a small integer code), and every element a 4-bit code, decoded as
 * {@code element value × scale value}.
 *
 * <p>Scales are computed by {@link #scaleCode} and can be kept (GPTQ freezes them) and reused by
 * {@link #encode}/{@link #decode}. A NaN or infinity in a group gives a NaN scale, so it propagates to
 * every decoded element of the group; an all-zero group, or a scale that rounds to zero, decodes to
 * exact zeros.
 */
public interface QuantFormat {

    /** Name as printed in reports: MXFP4, NVFP4, INT4. */
    String name();

    /** Elements per group. */
    int groupSize();

    /** Bits of one stored scale code (8 for E8M0 / E4M3, 16 for BF16). */
    int scaleBits();

    /** The scale code of the group {@code x[offset .. offset+length)}. */
    int scaleCode(float[] x, int offset, int length);

    /** The multiplier a scale code stands for. */
    float scaleValue(int scaleCode);

    /** The 4-bit code of {@code x} under a group multiplier {@code scale}. */
    int encode(float x, float scale);

    /** The value of a 4-bit code under a group multiplier {@code scale}. */
    float decode(int code, float scale);

    /**
     * Quantizes the group {@code x[offset .. offset+length)} in place with its own scale: the simulated
     * quantization of activations. Formats override it with a faster loop giving the same values.
     */
    default void roundTripGroup(float[] x, int offset, int length) {
        float scale = scaleValue(scaleCode(x, offset, length));
        for (int i = offset; i < offset + length; i++) {
            x[i] = roundTrip(x[i], scale);
        }
    }

    /** {@code decode(encode(x, scale), scale)}. */
    default float roundTrip(float x, float scale) {
        return decode(encode(x, scale), scale);
    }

    /** Largest |x| of a group; NaN if any element is NaN, infinity if any is infinite. */
    static float absMax(float[] x, int offset, int length) {
        float amax = 0;
        for (int i = offset; i < offset + length; i++) {
            float a = Math.abs(x[i]);
            if (Float.isNaN(a)) {
                return Float.NaN;
            }
            amax = Math.max(amax, a);
        }
        return amax;
    }
}
