package dev.wush.quant.layer;

import ai.djl.ndarray.types.Shape;
import org.ejml.data.DMatrixRMaj;

/**
 * What quantizing one linear layer needs: its weight (out, in) and the Hessian of its inputs
 * {@code H = XᵀX / n} (in, in), both row-major.
 *
 * @param name names the layer in errors and reports
 */
public record LayerInput(String name, float[] weight, int out, int in, double[] hessian) {

    public LayerInput {
        if (weight.length != (long) out * in) {
            throw new IllegalArgumentException(name + ": weight has " + weight.length + " values, not " + new Shape(out, in));
        }
        if (hessian.length != (long) in * in) {
            throw new IllegalArgumentException(name + ": Hessian has " + hessian.length + " values, not " + new Shape(in, in));
        }
        for (int i = 0; i < weight.length; i++) {
            if (!Float.isFinite(weight[i])) {
                throw new IllegalArgumentException("weight of " + name + " has " + weight[i] + " at (" + i / in + ", " + i % in
                        + "): weights must be finite");
            }
        }
        for (double v : hessian) {
            if (!Double.isFinite(v)) {
                throw new IllegalArgumentException("calibration inputs of " + name + " contain NaN or infinity");
            }
        }
    }

    /** The weight zero-padded to {@code paddedIn} columns, as float64. */
    double[] paddedWeight(int paddedIn) {
        double[] w = new double[out * paddedIn];
        for (int r = 0; r < out; r++) {
            for (int c = 0; c < in; c++) {
                w[r * paddedIn + c] = weight[r * in + c];
            }
        }
        return w;
    }

    /** {@code W_iᵀ W_i / out} of the block [start, start+d) of a (out, cols) float64 matrix. */
    static DMatrixRMaj weightGram(double[] w, int out, int cols, int start, int d) {
        DMatrixRMaj g = new DMatrixRMaj(d, d);
        for (int r = 0; r < out; r++) {
            int off = r * cols + start;
            for (int i = 0; i < d; i++) {
                double wi = w[off + i];
                if (wi == 0) {
                    continue;
                }
                for (int j = 0; j < d; j++) {
                    g.data[i * d + j] += wi * w[off + j];
                }
            }
        }
        for (int i = 0; i < g.data.length; i++) {
            g.data[i] /= out;
        }
        return g;
    }

    /** The diagonal block [start, start+d)² of a (p, p) matrix. */
    static DMatrixRMaj diagonalBlock(double[] h, int p, int start, int d) {
        DMatrixRMaj b = new DMatrixRMaj(d, d);
        for (int i = 0; i < d; i++) {
            System.arraycopy(h, (start + i) * p + start, b.data, i * d, d);
        }
        return b;
    }
}
