package dev.wush.quant.layer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Accumulates {@code H = XᵀX / n} of a layer's inputs over any number of batches. Each batch's
 * {@code XᵀX} is one float64 matrix product on the engine; sums stay in float64, so millions of
 * tokens add up without loss.
 */
public final class HessianAccumulator implements AutoCloseable {

    private final NDManager manager;
    private final int in;
    private NDArray sum; // (in, in) float64
    private long tokens;

    public HessianAccumulator(NDManager parent, int in) {
        this.manager = parent.newSubManager();
        this.in = in;
        this.sum = manager.zeros(new Shape(in, in), DataType.FLOAT64);
    }

    /** Adds the rows of {@code x} (…, in): every leading index is one token. */
    public void add(NDArray x) {
        long[] shape = x.getShape().getShape();
        if (shape[shape.length - 1] != in) {
            throw new IllegalArgumentException("expected inputs with " + in + " features, got " + x.getShape());
        }
        try (NDManager batch = manager.newSubManager()) {
            NDArray rows = x.reshape(-1, in).toType(DataType.FLOAT64, false);
            rows.attach(batch);
            NDArray gram = rows.transpose().matMul(rows);
            NDArray next = sum.add(gram);
            next.attach(manager);
            sum.close();
            sum = next;
            tokens += rows.getShape().get(0);
        }
    }

    /** Tokens seen. */
    public long tokens() {
        return tokens;
    }

    /** {@code XᵀX / n}, (in, in) row-major float64. */
    public double[] hessian() {
        if (tokens == 0) {
            throw new IllegalStateException("no calibration tokens were seen");
        }
        double[] h = sum.toDoubleArray();
        for (int i = 0; i < h.length; i++) {
            h[i] /= tokens;
        }
        return h;
    }

    @Override
    public void close() {
        manager.close();
    }
}
