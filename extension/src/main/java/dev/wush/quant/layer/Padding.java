package dev.wush.quant.layer;

/** Zero-padding of input features to a multiple of the block size. */
public final class Padding {

    private Padding() {}

    /** The next multiple of {@code d} at or above {@code in}. */
    public static int padded(int in, int d) {
        return (in + d - 1) / d * d;
    }

    /** (rows, cols) → a new (rows, paddedCols) array with zero columns appended. */
    public static float[] columns(float[] m, int rows, int cols, int paddedCols) {
        if (cols == paddedCols) {
            return m.clone();
        }
        float[] out = new float[rows * paddedCols];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(m, r * cols, out, r * paddedCols, cols);
        }
        return out;
    }

    /** A (n, n) float64 matrix → (p, p) with zero rows and columns appended. */
    public static double[] square(double[] h, int n, int p) {
        if (n == p) {
            return h.clone();
        }
        double[] out = new double[p * p];
        for (int r = 0; r < n; r++) {
            System.arraycopy(h, r * n, out, r * p, n);
        }
        return out;
    }
}
