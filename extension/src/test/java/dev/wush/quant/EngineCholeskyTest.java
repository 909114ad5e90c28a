package dev.wush.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.wush.quant.layer.EngineCholesky;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The engine's recursive inverse Cholesky factor against EJML in float64, at sizes that recurse (BASE is 256). */
class EngineCholeskyTest {

    static NDManager manager;

    @BeforeAll
    static void start() {
        manager = NDManager.newBaseManager("PyTorch");
    }

    @AfterAll
    static void stop() {
        manager.close();
    }

    /** A Hessian-like SPD matrix: XᵀX/n of correlated inputs with a few large channels, damped by 1% of its mean diagonal. */
    static DMatrixRMaj hessianLike(int n, long seed) {
        Random r = new Random(seed);
        int rows = n + 64;
        DMatrixRMaj x = new DMatrixRMaj(rows, n);
        for (int i = 0; i < rows; i++) {
            double previous = 0;
            for (int j = 0; j < n; j++) {
                double v = r.nextGaussian() * (j % 37 == 3 ? 20 : 1) + 0.5 * previous;
                x.set(i, j, v);
                previous = v;
            }
        }
        DMatrixRMaj h = new DMatrixRMaj(n, n);
        CommonOps_DDRM.multTransA(x, x, h);
        CommonOps_DDRM.scale(1.0 / rows, h);
        double mean = CommonOps_DDRM.trace(h) / n;
        for (int i = 0; i < n; i++) {
            h.add(i, i, 0.01 * mean);
        }
        return h;
    }

    static NDArray engine(DMatrixRMaj m) {
        float[] v = new float[m.data.length];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) m.data[i];
        }
        return manager.create(v, new Shape(m.numRows, m.numCols));
    }

    static DMatrixRMaj ejml(NDArray a) {
        float[] v = a.toFloatArray();
        DMatrixRMaj m = new DMatrixRMaj((int) a.getShape().get(0), (int) a.getShape().get(1));
        for (int i = 0; i < v.length; i++) {
            m.data[i] = v[i];
        }
        return m;
    }

    /** max |a − b| / max |b|. */
    static double relative(DMatrixRMaj a, DMatrixRMaj b) {
        double diff = 0;
        double scale = 0;
        for (int i = 0; i < a.data.length; i++) {
            diff = Math.max(diff, Math.abs(a.data[i] - b.data[i]));
            scale = Math.max(scale, Math.abs(b.data[i]));
        }
        return diff / scale;
    }

    @ParameterizedTest
    @ValueSource(ints = {100, 256, 257, 700, 1100})
    void theInverseFactorMatchesFloat64(int n) {
        DMatrixRMaj h = hessianLike(n, n);
        try (NDManager m = manager.newSubManager()) {
            NDArray a = engine(h);
            a.attach(m);
            DMatrixRMaj exactInverse = new DMatrixRMaj(n, n);
            CommonOps_DDRM.invert(h, exactInverse);
            DMatrixRMaj li = ejml(EngineCholesky.inverseLower(a));
            for (int i = 0; i < n; i++) {
                for (int j = i + 1; j < n; j++) {
                    assertEquals(0, Math.abs(li.get(i, j)), "upper triangle of the inverse's factor at (" + i + ", " + j + ")");
                }
            }
            DMatrixRMaj inverse = new DMatrixRMaj(n, n);
            CommonOps_DDRM.multTransB(li, li, inverse);
            // float32 against float64: the inverse magnifies rounding by the condition number (about 2·10³ here)
            assertTrue(relative(inverse, exactInverse) < 1e-3, "L Lᵀ = A⁻¹: " + relative(inverse, exactInverse));
            DMatrixRMaj exactFactor = dev.wush.quant.transform.Linalg.choleskyLower(exactInverse);
            assertTrue(relative(li, exactFactor) < 1e-3, "the Cholesky factor of A⁻¹: " + relative(li, exactFactor));
        }
    }

    @org.junit.jupiter.api.Test
    void addsToTheDiagonalInPlace() {
        try (NDManager m = manager.newSubManager()) {
            NDArray a = m.arange(0f, 12f).reshape(3, 4).get(new ai.djl.ndarray.index.NDIndex(":, :3")).duplicate(); // 3 × 3
            float[] before = a.toFloatArray();
            EngineCholesky.addToDiagonal(a, 0.5f);
            float[] after = a.toFloatArray();
            for (int i = 0; i < 9; i++) {
                assertEquals(before[i] + (i % 4 == 0 ? 0.5f : 0f), after[i], "element " + i);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {50, 600})
    void anIndefiniteMatrixIsAnError(int n) {
        DMatrixRMaj h = hessianLike(n, 7);
        h.set(0, 0, -1); // reversed, it is the last element: at n = 600 the failure comes from a Schur complement
        try (NDManager m = manager.newSubManager()) {
            NDArray a = engine(h);
            a.attach(m);
            ArithmeticException e = assertThrows(ArithmeticException.class, () -> EngineCholesky.inverseLower(a));
            assertTrue(e.getMessage().contains("not positive definite"), e.getMessage());
        }
    }
}
