package dev.wush.quant.format;

/**
 * A (rows, cols) matrix quantized in groups along each row: 4-bit codes packed two per byte in
 * row-major order, and one scale code per group, (rows, cols / groupSize) row-major.
 */
public record QuantizedMatrix(QuantFormat format, int rows, int cols, byte[] packedCodes, int[] scaleCodes) {

    public QuantizedMatrix {
        int g = format.groupSize();
        if (cols % g != 0) {
            throw new IllegalArgumentException(cols + " columns are not a multiple of the group size " + g);
        }
        if (packedCodes.length != (long) rows * cols / 2 || scaleCodes.length != (long) rows * (cols / g)) {
            throw new IllegalArgumentException("codes or scales do not match a (" + rows + ", " + cols + ") matrix");
        }
    }

    /** The quantized values, (rows, cols) row-major. */
    public float[] dequantize() {
        byte[] codes = Fp4Packing.unpack(packedCodes, rows * cols);
        int g = format.groupSize();
        float[] out = new float[rows * cols];
        for (int i = 0; i < out.length; i++) {
            out[i] = format.decode(codes[i], format.scaleValue(scaleCodes[i / g]));
        }
        return out;
    }

    /** Storage per element: 4 bits plus the group's scale bits shared among the group. */
    public double bitsPerElement() {
        return 4 + (double) format.scaleBits() / format.groupSize();
    }
}
