package dev.wush.quant.transform;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;

/**
 * The closed-form WUSH transform of one block (METHOD.md), in float64, computed the way the official
 * code does (symmetric eigendecomposition instead of an SVD; eigenvector signs are arbitrary).
 */
public final class Wush {

    /** Damping λ of both second moments. */
    public static final double LAMBDA = 0.01;

    private Wush() {}

    /**
     * WUSH ({@code hadamard} true) or WUS ({@code hadamard} false) for one block.
     *
     * @param weightGram {@code M_W = W_iᵀ W_i / out}, d×d
     * @param activationGram {@code M_X = X_iᵀ X_i / n}, d×d, the undamped diagonal block of H
     */
    public static BlockTransform transform(DMatrixRMaj weightGram, DMatrixRMaj activationGram, boolean hadamard) {
        int d = weightGram.numRows;
        DMatrixRMaj mW = Linalg.damp(weightGram, LAMBDA);         // M_W + λ·tr(M_W)/d·I
        DMatrixRMaj mX = Linalg.damp(activationGram, LAMBDA);     // M_X + λ·tr(M_X)/d·I
        DMatrixRMaj wChol = Linalg.choleskyLower(mW);             // W' = chol(M_W), lower

        // W'ᵀ M_X W' = U Λ Uᵀ, Λ ascending (Λ^(1/2) = S of the SVD W'ᵀ X' = U S Vᵀ)
        Linalg.SymmetricEigen eig = Linalg.eigenAscending(Linalg.multTransA(wChol, Linalg.mult(mX, wChol)));
        double[] quarterRoot = new double[d];
        double[] inverseQuarterRoot = new double[d];
        for (int k = 0; k < d; k++) {
            double lambda = Math.max(eig.values()[k], Double.MIN_NORMAL);
            quarterRoot[k] = Math.pow(lambda, 0.25);
            inverseQuarterRoot[k] = 1 / quarterRoot[k];
        }
        DMatrixRMaj h = hadamard ? Hadamard.matrix(d) : CommonOps_DDRM.identity(d);

        // T_wush = H · Λ^(-1/4) · Uᵀ · W'ᵀ                      (activations: x ↦ x T_wushᵀ)
        DMatrixRMaj uTwT = Linalg.multTransB(CommonOps_DDRM.transpose(eig.vectors(), null), wChol);
        DMatrixRMaj tWush = Linalg.mult(h, Linalg.scaleRows(inverseQuarterRoot, uTwT));

        // T_xvsh = T_wush^(-T) = H · Λ^(1/4) · Uᵀ · W'^(-1)     (weights: w ↦ w T_xvshᵀ = w T_wush⁻¹)
        // Uᵀ W'^(-1) = (W'^(-T) U)ᵀ, by back substitution on the triangular W' — no general inverse
        DMatrixRMaj uTwInv = CommonOps_DDRM.transpose(Linalg.solveLowerTransposed(wChol, eig.vectors()), null);
        DMatrixRMaj tXvsh = Linalg.mult(h, Linalg.scaleRows(quarterRoot, uTwInv));
        return new BlockTransform(tWush, tXvsh);
    }
}
