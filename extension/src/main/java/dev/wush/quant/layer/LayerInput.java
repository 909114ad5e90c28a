package dev.wush.quant.layer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import org.ejml.data.DMatrixRMaj;

/**
 * What quantizing one linear layer needs: its weight (out, in) and the Hessian of its inputs
 * {@code H = XᵀX / n}, both row-major: the whole (in, in) matrix, or — all that RTN's per-block
 * transforms read — only its diagonal blocks of {@code hessianBlock} features, (blocks, d, d) over the
 * inputs zero-padded to a multiple of d. For GPTQ on a large layer the whole matrix stays on the engine
 * ({@code engineHessian}, float32) and {@code hessian} holds only its diagonal blocks.
 *
 * @param name names the layer in errors and reports
 * @param hessianBlock 0 for a full Hessian, else the size d of its diagonal blocks
 * @param engineHessian null, or the full (in, in) Hessian as an engine array (float32), of which
 *     {@code hessian} holds the diagonal blocks
 */
public record LayerInput(String name, float[] weight, int out, int in, double[] hessian, int hessianBlock, NDArray engineHessian) {

    /** A layer with its full (in, in) Hessian. */
    public LayerInput(String name, float[] weight, int out, int in, double[] hessian) {
        this(name, weight, out, in, hessian, 0, null);
    }

    /** A layer with its full Hessian ({@code hessianBlock} 0) or its diagonal blocks only. */
    public LayerInput(String name, float[] weight, int out, int in, double[] hessian, int hessianBlock) {
        this(name, weight, out, in, hessian, hessianBlock, null);
    }

    public LayerInput {
        if (weight.length != (long) out * in) {
            throw new IllegalArgumentException(name + ": weight has " + weight.length + " values, not " + new Shape(out, in));
        }
        if (hessianBlock == 0 && hessian.length != (long) in * in) {
            throw new IllegalArgumentException(name + ": Hessian has " + hessian.length + " values, not " + new Shape(in, in));
        }
        if (hessianBlock > 0 && hessian.length != (long) Padding.padded(in, hessianBlock) * hessianBlock) {
            throw new IllegalArgumentException(name + ": block-diagonal Hessian has " + hessian.length + " values, not "
                    + new Shape(Padding.padded(in, hessianBlock) / hessianBlock, hessianBlock, hessianBlock));
        }
        if (engineHessian != null && (hessianBlock == 0 || !engineHessian.getShape().equals(new Shape(in, in)))) {
            throw new IllegalArgumentException(name + ": the engine Hessian must be (" + in + ", " + in + ") beside its diagonal blocks, not "
                    + engineHessian.getShape());
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
        if (engineHessian != null) {
            try (NDArray nan = engineHessian.isNaN(); NDArray inf = engineHessian.isInfinite();
                    NDArray bad = nan.logicalOr(inf); NDArray any = bad.any()) {
                if (any.getBoolean()) {
                    throw new IllegalArgumentException("calibration inputs of " + name + " contain NaN or infinity");
                }
            }
        }
    }

    /**
     * The diagonal block [start, start+d)² of the Hessian of the inputs zero-padded to {@code p}
     * features, read from whichever form this layer holds.
     */
    DMatrixRMaj hessianBlock(int start, int d) {
        DMatrixRMaj b = new DMatrixRMaj(d, d);
        if (hessianBlock > 0) {
            if (hessianBlock != d || start % d != 0) {
                throw new IllegalArgumentException(name + ": Hessian blocks of " + hessianBlock + " features, asked for " + d);
            }
            System.arraycopy(hessian, start * d, b.data, 0, d * d); // block start/d begins at (start/d)·d·d
            return b;
        }
        for (int i = 0; i < d && start + i < in; i++) {
            for (int j = 0; j < d && start + j < in; j++) {
                b.data[i * d + j] = hessian[(start + i) * in + start + j];
            }
        }
        return b;
    }

    /** {@code W_iᵀ W_i / out} of the input features [start, start+d) (zero beyond {@code in}), from the float weight. */
    DMatrixRMaj weightGram(int start, int d) {
        DMatrixRMaj g = new DMatrixRMaj(d, d);
        int width = Math.min(d, in - start);
        double[] row = new double[width];
        for (int r = 0; r < out; r++) {
            for (int i = 0; i < width; i++) {
                row[i] = weight[r * in + start + i];
            }
            addOuter(g, row, 0, width);
        }
        return scale(g, out);
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
            addOuter(g, w, r * cols + start, d);
        }
        return scale(g, out);
    }

    /** {@code g[0:width, 0:width] += x xᵀ} for {@code x = v[off, off+width)}. */
    private static void addOuter(DMatrixRMaj g, double[] v, int off, int width) {
        int d = g.numCols;
        for (int i = 0; i < width; i++) {
            double vi = v[off + i];
            if (vi == 0) {
                continue;
            }
            for (int j = 0; j < width; j++) {
                g.data[i * d + j] += vi * v[off + j];
            }
        }
    }

    private static DMatrixRMaj scale(DMatrixRMaj g, int out) {
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
