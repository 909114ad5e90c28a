package dev.wush.quant.transform;

import org.ejml.data.DMatrixRMaj;

/** The normalised Sylvester Hadamard matrix (entries ±d^-1/2, no random signs) and its fast apply. */
public final class Hadamard {

    private Hadamard() {}

    /** H of size d (a power of two): {@code H[i][j] = (-1)^popcount(i & j) / sqrt(d)}. */
    public static DMatrixRMaj matrix(int d) {
        requirePowerOfTwo(d);
        DMatrixRMaj h = new DMatrixRMaj(d, d);
        double v = 1 / Math.sqrt(d);
        for (int i = 0; i < d; i++) {
            for (int j = 0; j < d; j++) {
                h.set(i, j, Integer.bitCount(i & j) % 2 == 0 ? v : -v);
            }
        }
        return h;
    }

    /**
     * {@code x[offset .. offset+d) ↦ H · x} (= {@code x · Hᵀ}, H being symmetric) in place, in
     * O(d log d) butterflies.
     */
    public static void apply(float[] x, int offset, int d) {
        for (int len = 1; len < d; len <<= 1) {
            for (int i = offset; i < offset + d; i += len << 1) {
                for (int j = i; j < i + len; j++) {
                    float a = x[j];
                    float b = x[j + len];
                    x[j] = a + b;
                    x[j + len] = a - b;
                }
            }
        }
        float norm = (float) (1 / Math.sqrt(d));
        for (int i = offset; i < offset + d; i++) {
            x[i] *= norm;
        }
    }

    static void requirePowerOfTwo(int d) {
        if (d <= 0 || (d & (d - 1)) != 0) {
            throw new IllegalArgumentException("Hadamard size must be a power of two, got " + d);
        }
    }
}
