package dev.wush.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wush.quant.transform.BlockTransform;
import dev.wush.quant.transform.Hadamard;
import dev.wush.quant.transform.Linalg;
import dev.wush.quant.transform.TransformKind;
import dev.wush.quant.transform.Transforms;
import dev.wush.quant.transform.Wush;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.MatrixFeatures_DDRM;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TransformsTest {

    @ParameterizedTest
    @ValueSource(ints = {16, 32})
    void hadamardIsOrthogonalAndTheFastApplyAgrees(int d) {
        DMatrixRMaj h = Hadamard.matrix(d);
        assertIdentity(Linalg.multTransB(h, h), 1e-12);
        assertEquals(1 / Math.sqrt(d), Math.abs(h.get(3, 5)), 1e-15);
        Random random = new Random(d);
        float[] x = new float[d + 3];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) random.nextGaussian();
        }
        float[] fast = x.clone();
        Hadamard.apply(fast, 3, d);
        for (int k = 0; k < d; k++) {
            double s = 0;
            for (int j = 0; j < d; j++) {
                s += h.get(k, j) * x[3 + j];
            }
            assertEquals(s, fast[3 + k], 1e-5);
        }
        assertEquals(x[0], fast[0], "elements outside the block are untouched");
    }

    @Test
    void randomRotationIsOrthogonalSeededAndPerBlock() {
        DMatrixRMaj gram = CommonOps_DDRM.identity(32);
        BlockTransform a = Transforms.block(TransformKind.RANDOM, 0, gram, gram, 7);
        BlockTransform again = Transforms.block(TransformKind.RANDOM, 0, gram, gram, 7);
        BlockTransform other = Transforms.block(TransformKind.RANDOM, 1, gram, gram, 7);
        assertIdentity(Linalg.multTransB(a.forward(), a.forward()), 1e-12);
        assertTrue(MatrixFeatures_DDRM.isIdentical(a.forward(), again.forward(), 0), "same seed, same rotation");
        assertTrue(!MatrixFeatures_DDRM.isIdentical(other.forward(), a.forward(), 1e-6), "blocks get different rotations");
    }

    @ParameterizedTest
    @ValueSource(ints = {16, 32})
    void wushEqualisesSecondMomentsWithAConstantDiagonal(int d) {
        Random random = new Random(11 + d);
        DMatrixRMaj mW = gram(correlated(random, 300, d, 5.0), 300);
        DMatrixRMaj mX = gram(correlated(random, 2000, d, 20.0), 2000);
        BlockTransform t = Wush.transform(mW, mX, true);
        // T_xvsh T_wushᵀ = I: the pair leaves x wᵀ unchanged
        assertIdentity(Linalg.multTransB(t.weightSide(), t.forward()), 1e-9);
        DMatrixRMaj mXd = Linalg.damp(mX, Wush.LAMBDA);
        DMatrixRMaj mWd = Linalg.damp(mW, Wush.LAMBDA);
        DMatrixRMaj activations = Linalg.multTransB(Linalg.mult(t.forward(), mXd), t.forward());
        DMatrixRMaj weights = Linalg.multTransB(Linalg.mult(t.weightSide(), mWd), t.weightSide());
        double scale = CommonOps_DDRM.elementMaxAbs(activations);
        for (int i = 0; i < d * d; i++) {
            assertEquals(activations.data[i], weights.data[i], 1e-9 * scale, "transformed second moments are equal");
        }
        for (int i = 1; i < d; i++) {
            assertEquals(activations.get(0, 0), activations.get(i, i), 1e-9 * scale, "constant diagonal");
        }
        // WUS: equal second moments too, but no Hadamard to flatten the diagonal
        BlockTransform wus = Wush.transform(mW, mX, false);
        DMatrixRMaj a2 = Linalg.multTransB(Linalg.mult(wus.forward(), mXd), wus.forward());
        DMatrixRMaj w2 = Linalg.multTransB(Linalg.mult(wus.weightSide(), mWd), wus.weightSide());
        for (int i = 0; i < d * d; i++) {
            assertEquals(a2.data[i], w2.data[i], 1e-9 * CommonOps_DDRM.elementMaxAbs(a2));
        }
        assertTrue(Math.abs(a2.get(0, 0) - a2.get(d - 1, d - 1)) > 1e-3 * CommonOps_DDRM.elementMaxAbs(a2));
    }

    @Test
    void wushSurvivesAnAllZeroPaddedBlock() {
        DMatrixRMaj zero = new DMatrixRMaj(32, 32);
        BlockTransform t = Wush.transform(zero, zero, true);
        assertIdentity(Linalg.multTransB(t.weightSide(), t.forward()), 1e-9);
    }

    /** (n, d) rows with a few large-variance directions. */
    static double[] correlated(Random random, int n, int d, double outlier) {
        double[] mix = new double[d * d];
        for (int i = 0; i < mix.length; i++) {
            mix[i] = random.nextGaussian() / Math.sqrt(d);
        }
        double[] x = new double[n * d];
        for (int r = 0; r < n; r++) {
            double[] z = new double[d];
            for (int j = 0; j < d; j++) {
                z[j] = random.nextGaussian() * (j < 2 ? outlier : 1);
            }
            for (int i = 0; i < d; i++) {
                double s = 0;
                for (int j = 0; j < d; j++) {
                    s += mix[i * d + j] * z[j];
                }
                x[r * d + i] = s + (i == 3 ? z[0] : 0);
            }
        }
        return x;
    }

    static DMatrixRMaj gram(double[] x, int n) {
        int d = x.length / n;
        DMatrixRMaj m = DMatrixRMaj.wrap(n, d, x);
        DMatrixRMaj g = Linalg.multTransA(m, m);
        CommonOps_DDRM.scale(1.0 / n, g);
        return g;
    }

    static void assertIdentity(DMatrixRMaj m, double tol) {
        for (int i = 0; i < m.numRows; i++) {
            for (int j = 0; j < m.numCols; j++) {
                assertEquals(i == j ? 1 : 0, m.get(i, j), tol, "(" + i + ", " + j + ")");
            }
        }
    }
}
