package dev.wush.quant.layer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Accumulates {@code H = XᵀX / n} of a layer's inputs over any number of batches, on the engine (the
 * inputs' device). The full (in, in) matrix is summed in float32, as the official implementation does:
 * each batch's {@code XᵀX} is one float32 product on all cores, the large work of calibrating GPTQ. With a
 * block size d only the diagonal d×d blocks are accumulated, in float64 (one batched product; inputs
 * zero-padded to a multiple of d): all that RTN's per-block transforms need, at d/in of the memory and
 * arithmetic (for an 8B model's down_proj, 1.8 MB instead of 0.8 GB).
 */
public final class HessianAccumulator implements AutoCloseable {

    private final NDManager manager;
    private final int in;
    private final int block; // 0: the full matrix
    private NDArray sum; // (in, in) float32 or (blocks, d, d) float64
    private long tokens;

    /** The full (in, in) Hessian. */
    public HessianAccumulator(NDManager parent, int in) {
        this(parent, in, 0);
    }

    /** With {@code block > 0} only the diagonal blocks of that size, (padded/d, d, d). */
    public HessianAccumulator(NDManager parent, int in, int block) {
        this.manager = parent.newSubManager();
        this.in = in;
        this.block = block;
        this.sum = block == 0 ? manager.zeros(new Shape(in, in), DataType.FLOAT32)
                : manager.zeros(new Shape(Padding.padded(in, block) / block, block, block), DataType.FLOAT64);
    }

    /** 0 for the full Hessian, else the size of the diagonal blocks held. */
    public int blockSize() {
        return block;
    }

    /** Adds the rows of {@code x} (…, in): every leading index is one token. */
    public void add(NDArray x) {
        long[] shape = x.getShape().getShape();
        if (shape[shape.length - 1] != in) {
            throw new IllegalArgumentException("expected inputs with " + in + " features, got " + x.getShape());
        }
        try (NDManager batch = manager.newSubManager()) {
            NDArray rows = x.reshape(-1, in).toType(block == 0 ? DataType.FLOAT32 : DataType.FLOAT64, false);
            rows.attach(batch);
            NDArray gram;
            if (block == 0) {
                gram = rows.transpose().matMul(rows);
            } else {
                long n = rows.getShape().get(0);
                int p = Padding.padded(in, block);
                NDArray padded = p == in ? rows : rows.concat(batch.zeros(new Shape(n, p - in), DataType.FLOAT64), 1);
                NDArray groups = padded.reshape(n, p / block, block).transpose(1, 0, 2); // (blocks, n, d)
                gram = groups.transpose(0, 2, 1).batchMatMul(groups);                    // (blocks, d, d)
            }
            gram.attach(batch);
            sum.addi(gram);
            tokens += rows.getShape().get(0);
        }
    }

    /** Tokens seen. */
    public long tokens() {
        return tokens;
    }

    /** {@code XᵀX / n}, (in, in) row-major, or its diagonal blocks (blocks, d, d), as float64. */
    public double[] hessian() {
        requireTokens();
        double[] h;
        if (sum.getDataType() == DataType.FLOAT64) {
            h = sum.toDoubleArray();
        } else {
            try (NDArray wide = sum.toType(DataType.FLOAT64, false)) {
                h = wide.toDoubleArray();
            }
        }
        for (int i = 0; i < h.length; i++) {
            h[i] /= tokens;
        }
        return h;
    }

    /** The full {@code XᵀX / n} (in, in) as a float32 engine array owned by {@code into}; the sum stays. */
    public NDArray mean(NDManager into) {
        if (block != 0) {
            throw new IllegalStateException("this accumulator holds only the diagonal blocks of " + block + " features");
        }
        requireTokens();
        NDArray m = sum.div((float) tokens);
        m.attach(into);
        return m;
    }

    /**
     * The diagonal blocks of d features of {@code XᵀX / n}, inputs zero-padded to a multiple of d:
     * (blocks, d, d) row-major float64, read from the full matrix (the small part transforms need).
     */
    public double[] diagonalBlocks(int d) {
        if (block != 0) {
            if (block != d) {
                throw new IllegalArgumentException("this accumulator holds blocks of " + block + " features, not " + d);
            }
            return hessian();
        }
        requireTokens();
        int p = Padding.padded(in, d);
        double[] blocks = new double[p * d];
        for (int start = 0; start < in; start += d) {
            int w = Math.min(d, in - start);
            float[] v;
            try (NDArray b = sum.get(new ai.djl.ndarray.index.NDIndex("{}:{}, {}:{}", start, start + w, start, start + w))) {
                v = b.toFloatArray();
            }
            for (int i = 0; i < w; i++) {
                for (int j = 0; j < w; j++) {
                    blocks[start * d + i * d + j] = (double) v[i * w + j] / tokens;
                }
            }
        }
        return blocks;
    }

    private void requireTokens() {
        if (tokens == 0) {
            throw new IllegalStateException("no calibration tokens were seen");
        }
    }

    @Override
    public void close() {
        manager.close();
    }
}
