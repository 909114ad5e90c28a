package dev.wush.quant.format;

/** Round-to-nearest quantization of row-major matrices in groups along the rows. */
public final class GroupQuantizer {

    private GroupQuantizer() {}

    /** Scale codes of every group of a (rows, cols) matrix, (rows, cols / g) row-major. */
    public static int[] scaleCodes(QuantFormat format, float[] m, int rows, int cols) {
        int g = checkShape(format, m, rows, cols);
        int[] scales = new int[rows * (cols / g)];
        for (int i = 0; i < scales.length; i++) {
            scales[i] = format.scaleCode(m, i * g, g);
        }
        return scales;
    }

    /** Quantizes with scales computed from the matrix itself (AbsMax or the format's clipping). */
    public static QuantizedMatrix quantize(QuantFormat format, float[] m, int rows, int cols) {
        return quantize(format, m, rows, cols, scaleCodes(format, m, rows, cols));
    }

    /** Quantizes with given (e.g. frozen) scale codes. */
    public static QuantizedMatrix quantize(QuantFormat format, float[] m, int rows, int cols, int[] scaleCodes) {
        int g = checkShape(format, m, rows, cols);
        byte[] codes = new byte[rows * cols];
        for (int i = 0; i < codes.length; i++) {
            codes[i] = (byte) format.encode(m[i], format.scaleValue(scaleCodes[i / g]));
        }
        return new QuantizedMatrix(format, rows, cols, Fp4Packing.pack(codes), scaleCodes);
    }

    /**
     * Replaces every element by its quantized value, in place: the simulated ("fake") quantization of
     * activations, which are quantized per token with their own scales.
     */
    public static void fakeQuantize(QuantFormat format, float[] m, int rows, int cols) {
        int g = checkShape(format, m, rows, cols);
        java.util.stream.IntStream.range(0, rows).parallel().forEach(r -> {
            for (int start = r * cols; start < (r + 1) * cols; start += g) {
                format.roundTripGroup(m, start, g);
            }
        });
    }

    private static int checkShape(QuantFormat format, float[] m, int rows, int cols) {
        int g = format.groupSize();
        if (cols % g != 0) {
            throw new IllegalArgumentException(format.name() + ": " + cols + " columns are not a multiple of the group size " + g
                    + " (pad the input features first)");
        }
        if (m.length != rows * cols) {
            throw new IllegalArgumentException("matrix of " + m.length + " values is not (" + rows + ", " + cols + ")");
        }
        return g;
    }
}
