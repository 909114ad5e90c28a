package dev.wush.quant.layer;

import dev.wush.quant.transform.BlockTransform;
import dev.wush.quant.transform.Hadamard;
import dev.wush.quant.transform.TransformKind;
import java.util.List;

/**
 * The transforms of all blocks of one linear layer's (padded) input features: block i covers
 * features {@code [i·d, (i+1)·d)}.
 */
public final class LayerTransform {

    private final TransformKind kind;
    private final int blockSize;
    private final List<BlockTransform> blocks;
    private final double[][] forward; // per block, d×d row-major
    private final double[][] weightSide;

    public LayerTransform(TransformKind kind, int blockSize, List<BlockTransform> blocks) {
        this.kind = kind;
        this.blockSize = blockSize;
        this.blocks = List.copyOf(blocks);
        this.forward = blocks.stream().map(b -> b.forward().data.clone()).toArray(double[][]::new);
        this.weightSide = blocks.stream().map(b -> b.weightSide().data.clone()).toArray(double[][]::new);
    }

    public TransformKind kind() {
        return kind;
    }

    /** d. */
    public int blockSize() {
        return blockSize;
    }

    /** Number of blocks. */
    public int blockCount() {
        return blocks.size();
    }

    /** The transform of block i. */
    public BlockTransform block(int i) {
        return blocks.get(i);
    }

    /** Padded input features: blocks × d. */
    public int paddedIn() {
        return blocks.size() * blockSize;
    }

    /** Activations, in place: every row {@code x ↦ x · Tᵀ} block by block; x is (rows, paddedIn). */
    public void applyToActivations(float[] x, int rows) {
        apply(x, rows, forward, kind == TransformKind.HADAMARD);
    }

    /** Weights, in place: every row {@code w ↦ w · T⁻¹} block by block; w is (out, paddedIn). */
    public void applyToWeights(float[] w, int rows) {
        apply(w, rows, weightSide, kind == TransformKind.HADAMARD);
    }

    private void apply(float[] m, int rows, double[][] matrices, boolean fastHadamard) {
        if (kind == TransformKind.IDENTITY) {
            return;
        }
        int cols = paddedIn();
        if (m.length != (long) rows * cols) {
            throw new IllegalArgumentException("expected (" + rows + ", " + cols + ") values, got " + m.length);
        }
        int d = blockSize;
        java.util.stream.IntStream.range(0, rows).parallel().forEach(r -> {
            double[] y = new double[d];
            for (int b = 0; b < matrices.length; b++) {
                int off = r * cols + b * d;
                if (fastHadamard) {
                    Hadamard.apply(m, off, d);
                    continue;
                }
                double[] t = matrices[b];
                for (int k = 0; k < d; k++) { // y = T · x_block, i.e. the row times Tᵀ
                    double s = 0;
                    for (int j = 0; j < d; j++) {
                        s += t[k * d + j] * m[off + j];
                    }
                    y[k] = s;
                }
                for (int k = 0; k < d; k++) {
                    m[off + k] = (float) y[k];
                }
            }
        });
    }
}
