package dev.wush.quant.transform;

import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.QRDecomposition;

/** Builds the transform of one block for any {@link TransformKind}. */
public final class Transforms {

    private Transforms() {}

    /**
     * The transform of block {@code block} (of size d = the Gram matrices' size).
     *
     * @param weightGram {@code W_iᵀ W_i / out} of the block (used by wus/wush)
     * @param activationGram the block's diagonal block of {@code H = XᵀX/n} (used by wus/wush)
     * @param seed seed of the random rotation; block i uses a generator derived from (seed, i)
     */
    public static BlockTransform block(
            TransformKind kind, int block, DMatrixRMaj weightGram, DMatrixRMaj activationGram, long seed) {
        int d = weightGram.numRows;
        return switch (kind) {
            case IDENTITY -> orthogonal(CommonOps_DDRM.identity(d));
            case HADAMARD -> orthogonal(Hadamard.matrix(d));
            case RANDOM -> orthogonal(randomRotation(d, new Random(seed * 0x9E3779B97F4A7C15L + block)));
            case WUS -> Wush.transform(weightGram, activationGram, false);
            case WUSH -> Wush.transform(weightGram, activationGram, true);
        };
    }

    /** An orthogonal T: its weight side {@code T^(-T)} is T itself. */
    public static BlockTransform orthogonal(DMatrixRMaj t) {
        return new BlockTransform(t, t);
    }

    /** Q of the QR decomposition of a d×d standard Gaussian matrix, columns signed so that diag(R) > 0. */
    public static DMatrixRMaj randomRotation(int d, Random random) {
        DMatrixRMaj g = new DMatrixRMaj(d, d);
        for (int i = 0; i < d * d; i++) {
            g.data[i] = random.nextGaussian();
        }
        QRDecomposition<DMatrixRMaj> qr = DecompositionFactory_DDRM.qr(d, d);
        if (!qr.decompose(g)) {
            throw new ArithmeticException("QR decomposition failed");
        }
        DMatrixRMaj q = qr.getQ(null, false);
        DMatrixRMaj r = qr.getR(null, false);
        for (int j = 0; j < d; j++) {
            if (r.get(j, j) < 0) {
                for (int i = 0; i < d; i++) {
                    q.set(i, j, -q.get(i, j));
                }
            }
        }
        return q;
    }
}
