package dev.wush.quant.transform;

import java.util.Arrays;
import java.util.Comparator;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.CholeskyDecomposition_F64;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;

/** The small dense float64 linear algebra the transforms need, on EJML. */
public final class Linalg {

    private Linalg() {}

    /** {@code M + λ · (trace(M)/d) · I}, a new matrix; an all-zero M becomes I (nothing to weigh). */
    public static DMatrixRMaj damp(DMatrixRMaj m, double lambda) {
        int d = m.numRows;
        double meanDiagonal = CommonOps_DDRM.trace(m) / d;
        DMatrixRMaj out = m.copy();
        if (!(meanDiagonal > 0)) {
            return CommonOps_DDRM.identity(d);
        }
        for (int i = 0; i < d; i++) {
            out.add(i, i, lambda * meanDiagonal);
        }
        return out;
    }

    /** Lower Cholesky factor L of a symmetric positive definite matrix, {@code L Lᵀ = m}. */
    public static DMatrixRMaj choleskyLower(DMatrixRMaj m) {
        CholeskyDecomposition_F64<DMatrixRMaj> chol = DecompositionFactory_DDRM.chol(m.numRows, true);
        if (!chol.decompose(m.copy())) {
            throw new ArithmeticException("matrix is not positive definite");
        }
        DMatrixRMaj l = chol.getT(null);
        // EJML leaves the strict upper triangle of the work matrix in place: clear it
        for (int i = 0; i < l.numRows; i++) {
            for (int j = i + 1; j < l.numCols; j++) {
                l.set(i, j, 0);
            }
        }
        return l;
    }

    /** Symmetric eigendecomposition {@code a = U Λ Uᵀ} with eigenvalues ascending. */
    public record SymmetricEigen(double[] values, DMatrixRMaj vectors) {}

    /**
     * The eigenpairs of a symmetric matrix, eigenvalues ascending (as torch.linalg.eigh returns them).
     * Each eigenvector is signed so that its largest-magnitude component is positive: solvers return
     * arbitrary signs (EJML's even flip with the last bits of the input), and under a Hadamard the sign
     * changes the transform, so a fixed rule keeps results reproducible across platforms and versions.
     */
    public static SymmetricEigen eigenAscending(DMatrixRMaj a) {
        int d = a.numRows;
        DMatrixRMaj sym = a.copy();
        CommonOps_DDRM.transpose(a, sym);
        CommonOps_DDRM.add(0.5, a, 0.5, sym, sym); // exactly symmetric
        EigenDecomposition_F64<DMatrixRMaj> eig = DecompositionFactory_DDRM.eig(d, true, true);
        if (!eig.decompose(sym)) {
            throw new ArithmeticException("eigendecomposition failed");
        }
        Integer[] order = new Integer[d];
        for (int i = 0; i < d; i++) {
            order[i] = i;
        }
        Arrays.sort(order, Comparator.comparingDouble(i -> eig.getEigenvalue(i).real));
        double[] values = new double[d];
        DMatrixRMaj vectors = new DMatrixRMaj(d, d);
        for (int k = 0; k < d; k++) {
            values[k] = eig.getEigenvalue(order[k]).real;
            DMatrixRMaj v = eig.getEigenVector(order[k]);
            int largest = 0;
            for (int i = 1; i < d; i++) {
                if (Math.abs(v.get(i)) > Math.abs(v.get(largest))) {
                    largest = i;
                }
            }
            double sign = v.get(largest) < 0 ? -1 : 1;
            for (int i = 0; i < d; i++) {
                vectors.set(i, k, sign * v.get(i));
            }
        }
        return new SymmetricEigen(values, vectors);
    }

    /** Solves {@code Lᵀ Y = B} for lower-triangular L (back substitution), B (d, m). */
    public static DMatrixRMaj solveLowerTransposed(DMatrixRMaj l, DMatrixRMaj b) {
        int d = l.numRows;
        DMatrixRMaj y = b.copy();
        for (int col = 0; col < b.numCols; col++) {
            for (int i = d - 1; i >= 0; i--) {
                double s = y.get(i, col);
                for (int k = i + 1; k < d; k++) {
                    s -= l.get(k, i) * y.get(k, col);
                }
                y.set(i, col, s / l.get(i, i));
            }
        }
        return y;
    }

    /** {@code a · b}. */
    public static DMatrixRMaj mult(DMatrixRMaj a, DMatrixRMaj b) {
        DMatrixRMaj c = new DMatrixRMaj(a.numRows, b.numCols);
        CommonOps_DDRM.mult(a, b, c);
        return c;
    }

    /** {@code aᵀ · b}. */
    public static DMatrixRMaj multTransA(DMatrixRMaj a, DMatrixRMaj b) {
        DMatrixRMaj c = new DMatrixRMaj(a.numCols, b.numCols);
        CommonOps_DDRM.multTransA(a, b, c);
        return c;
    }

    /** {@code a · bᵀ}. */
    public static DMatrixRMaj multTransB(DMatrixRMaj a, DMatrixRMaj b) {
        DMatrixRMaj c = new DMatrixRMaj(a.numRows, b.numRows);
        CommonOps_DDRM.multTransB(a, b, c);
        return c;
    }

    /** {@code diag(s) · a}: row i of a scaled by s[i]. */
    public static DMatrixRMaj scaleRows(double[] s, DMatrixRMaj a) {
        DMatrixRMaj out = a.copy();
        for (int i = 0; i < a.numRows; i++) {
            for (int j = 0; j < a.numCols; j++) {
                out.set(i, j, a.get(i, j) * s[i]);
            }
        }
        return out;
    }
}
