package dev.wush.quant.format;

/** A group format whose elements are E2M1 (MXFP4, NVFP4): only the scale rule differs. */
public interface E2M1Format extends QuantFormat {

    /** The scale code of a group whose largest |x| is {@code amax} (NaN or infinity: the NaN code). */
    int scaleCodeOfAbsMax(float amax);

    @Override
    default int scaleCode(float[] x, int offset, int length) {
        return scaleCodeOfAbsMax(QuantFormat.absMax(x, offset, length));
    }

    /** Both FP4 formats store 8-bit scale codes (E8M0 or E4M3). */
    @Override
    default int scaleBits() {
        return 8;
    }

    @Override
    default int encode(float x, float scale) {
        return scale == 0 ? 0 : E2M1.encode(x / scale);
    }

    @Override
    default float decode(int code, float scale) {
        return E2M1.decode(code) * scale;
    }

    @Override
    default void roundTripGroup(float[] x, int offset, int length) {
        float scale = scaleValue(scaleCode(x, offset, length));
        for (int i = offset; i < offset + length; i++) {
            x[i] = scale == 0 ? 0 : E2M1.round(x[i] / scale) * scale;
        }
    }
}
