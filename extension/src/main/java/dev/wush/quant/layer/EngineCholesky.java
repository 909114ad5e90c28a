package dev.wush.quant.layer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.wush.quant.transform.Linalg;
import org.ejml.data.DMatrixRMaj;

/**
 * The inverse of a large float32 matrix's Cholesky factor, on the engine (DJL has {@code matMul} but no
 * Cholesky), by recursion on 2×2 block partitions: diagonal blocks of at most {@link #BASE} rows are
 * factorised and inverted with EJML in float64, and all the O(n³) work is in engine matrix products,
 * which run on every core (or on the GPU the arrays live on).
 *
 * <pre>
 *   chol [A11 ·; A21 A22] = [L11 0; L21 L22]   L11 = chol A11, L21 = A21 L11⁻ᵀ, L22 = chol(A22 − L21 L21ᵀ)
 *   [L11 0; L21 L22]⁻¹   = [X11 0; −X22 L21 X11, X22]   X11 = L11⁻¹, X22 = L22⁻¹
 * </pre>
 *
 * The factor itself is never assembled: only X11 and X22 feed the level above. Only the lower triangle
 * of the input is read.
 */
public final class EngineCholesky {

    /** Rows at or below which a block is done in EJML (float64). */
    static final int BASE = 256;

    private EngineCholesky() {}

    /**
     * The lower Cholesky factor of the inverse, {@code L Lᵀ = a⁻¹}, without forming {@code a⁻¹}: with J
     * the reversal, {@code J a J = C Cᵀ} gives {@code a = R Rᵀ} for the upper {@code R = J C J}, so
     * {@code a⁻¹ = R⁻ᵀ R⁻¹} and {@code L = R⁻ᵀ = J C⁻ᵀ J}. {@code C⁻¹} comes straight from one recursion
     * ({@link #inverseFactor}).
     */
    public static NDArray inverseLower(NDArray a) {
        try (NDManager scope = a.getManager().newSubManager()) {
            NDArray reversed = float32(a, scope).flip(0, 1);
            reversed.attach(scope);
            NDArray cInverse = inverseFactor(reversed, scope);
            NDArray l = cInverse.transpose().flip(0, 1);
            l.attach(a.getManager());
            return l;
        }
    }

    /**
     * {@code chol(a)⁻¹} in one recursion that never assembles the factor itself:
     * {@code X11 = chol(A11)⁻¹}, {@code L21 = A21 X11ᵀ}, {@code X22 = chol(A22 − L21 L21ᵀ)⁻¹},
     * {@code X21 = −X22 L21 X11}.
     */
    private static NDArray inverseFactor(NDArray a, NDManager scope) {
        long n = a.getShape().get(0);
        if (n <= BASE) {
            DMatrixRMaj l;
            try {
                l = Linalg.choleskyLower(lowerSymmetric(a, (int) n));
            } catch (ArithmeticException e) {
                throw new ArithmeticException("the matrix is not positive definite (a " + n + "-row diagonal block)");
            }
            return fromEjml(invertLowerBase(l), scope);
        }
        long h = half(n);
        try (NDManager level = scope.newSubManager()) {
            NDArray x11 = own(inverseFactor(own(a.get(new NDIndex(":{}, :{}", h, h)), level), level), level);
            NDArray a21 = own(a.get(new NDIndex("{}:, :{}", h, h)), level);
            NDArray l21 = own(a21.matMul(own(x11.transpose(), level)), level);                          // A21 X11ᵀ = A21 L11⁻ᵀ
            NDArray s = own(own(a.get(new NDIndex("{}:, {}:", h, h)), level).sub(own(l21.matMul(l21.transpose()), level)), level);
            NDArray x22 = own(inverseFactor(s, level), level);
            NDArray x21 = own(own(x22.matMul(own(l21.matMul(x11), level)), level).neg(), level);         // −X22 L21 X11
            NDArray top = own(x11.concat(level.zeros(new Shape(h, n - h), DataType.FLOAT32), 1), level);
            NDArray x = top.concat(own(x21.concat(x22, 1), level), 0);
            x.attach(scope);
            return x;
        }
    }

    /** Adds {@code v} to every diagonal element of the square {@code a}, in place (no n × n identity is made). */
    public static void addToDiagonal(NDArray a, float v) {
        long n = a.getShape().get(0);
        NDIndex diagonal = new NDIndex("::{}", n + 1); // every (n+1)-th element of the flat matrix
        try (NDArray flat = a.reshape(-1); NDArray d = flat.get(diagonal); NDArray shifted = d.add(v)) {
            flat.set(diagonal, shifted); // the flat array is a view: this writes a
        }
    }

    /** {@code L⁻¹} by forward substitution, column by column; exactly lower triangular. */
    static DMatrixRMaj invertLowerBase(DMatrixRMaj l) {
        int n = l.numRows;
        DMatrixRMaj x = new DMatrixRMaj(n, n);
        for (int j = 0; j < n; j++) {
            double djj = l.get(j, j);
            if (!(djj != 0) || !Double.isFinite(djj)) {
                throw new ArithmeticException("a triangular factor is singular (diagonal " + djj + ")");
            }
            x.set(j, j, 1 / djj);
            for (int i = j + 1; i < n; i++) {
                double s = 0;
                for (int k = j; k < i; k++) {
                    s += l.get(i, k) * x.get(k, j);
                }
                x.set(i, j, -s / l.get(i, i));
            }
        }
        return x;
    }

    /** The split point: about half, a multiple of 128 so that blocks stay aligned with transform groups. */
    private static long half(long n) {
        long h = (n / 2 + 127) / 128 * 128;
        return Math.min(h, n - 1);
    }

    /** {@code a} itself when float32, else a float32 copy owned by {@code scope}. */
    private static NDArray float32(NDArray a, NDManager scope) {
        if (a.getDataType() == DataType.FLOAT32) {
            return a;
        }
        return own(a.toType(DataType.FLOAT32, false), scope);
    }

    private static NDArray own(NDArray x, NDManager m) {
        x.attach(m);
        return x;
    }

    /** The lower triangle of {@code a} mirrored into a symmetric float64 matrix. */
    private static DMatrixRMaj lowerSymmetric(NDArray a, int n) {
        DMatrixRMaj m = toEjml(a, n);
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                m.set(i, j, m.get(j, i));
            }
        }
        return m;
    }

    private static DMatrixRMaj toEjml(NDArray a, int n) {
        float[] v = a.toFloatArray(); // float32 throughout
        DMatrixRMaj m = new DMatrixRMaj(n, n);
        for (int i = 0; i < v.length; i++) {
            m.data[i] = v[i];
        }
        return m;
    }

    private static NDArray fromEjml(DMatrixRMaj m, NDManager scope) {
        float[] v = new float[m.data.length];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) m.data[i];
        }
        return scope.create(v, new Shape(m.numRows, m.numCols));
    }
}
