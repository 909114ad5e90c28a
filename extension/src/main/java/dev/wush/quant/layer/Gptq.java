package dev.wush.quant.layer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.wush.quant.format.Formats;
import dev.wush.quant.format.Fp4Packing;
import dev.wush.quant.format.QuantFormat;
import dev.wush.quant.format.QuantizedMatrix;
import dev.wush.quant.transform.BlockTransform;
import dev.wush.quant.transform.Linalg;
import dev.wush.quant.transform.TransformKind;
import dev.wush.quant.transform.Transforms;
import dev.wush.quant.transform.Wush;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;

/**
 * GPTQ with block transforms (WUSH v3, Algorithm 2). With {@code H = XᵀX/n} and
 * {@code L Lᵀ = chol((H + λ·mean(diag H)·I)⁻¹)}, blocks of d columns are processed left to right:
 *
 * <ol>
 *   <li>{@code M_W} from the error-updated block, {@code M_X} the block of H, T_i from them;
 *   <li>the block moves to the transformed space, {@code W̃ = W_i T_i⁻¹}, with its effective Hessian
 *       {@code T_i (L_ii L_iiᵀ)⁻¹ T_iᵀ};
 *   <li>group scales are computed once from W̃ and frozen;
 *   <li>column-by-column GPTQ inside the block, under the transformed effective Hessian;
 *   <li>the block's error goes back to the original space ({@code Δ = Δ̃ T_i}) and is pushed to the
 *       later columns through L: {@code W_later −= E_i L_(later,i)ᵀ} with {@code E_i = Δ L_ii⁻ᵀ}.
 * </ol>
 *
 * With the identity transform this is plain GPTQ; with an identity Hessian and an orthogonal
 * transform, RTN.
 *
 * <p>The large matrices live on the engine, in float32 as in the official implementation: the damped
 * Hessian, its inverse's Cholesky factor ({@link EngineCholesky}), and the errors E. The update is lazy
 * (GPTQ paper, section "lazy batch-updates"): columns go in batches of {@value #LAZY} (whole transform
 * blocks); inside a batch the updates are made on a small (out, 128) float64 array, and each batch
 * first receives all earlier batches' updates in one engine product,
 * {@code W_batch −= (L_(batch, <a) E_(<a)ᵀ)ᵀ}.
 */
public final class Gptq {

    /** Columns per lazy batch. */
    static final int LAZY = 128;

    private Gptq() {}

    public static QuantizedLayer quantize(LayerInput layer, QuantFormat format, TransformKind kind, long seed) {
        int d = format.groupSize();
        if (layer.engineHessian() == null && layer.hessianBlock() != 0) {
            throw new IllegalArgumentException(layer.name() + ": GPTQ needs the full Hessian, not its diagonal blocks");
        }
        if (layer.engineHessian() != null && layer.hessianBlock() != d) {
            throw new IllegalArgumentException(layer.name() + ": Hessian blocks of " + layer.hessianBlock() + " features, the format's groups have " + d);
        }
        NDManager parent = layer.engineHessian() != null ? layer.engineHessian().getManager() : null;
        try (NDManager m = parent != null ? parent.newSubManager() : NDManager.newBaseManager()) {
            return quantize(layer, format, kind, seed, m);
        }
    }

    private static QuantizedLayer quantize(LayerInput layer, QuantFormat format, TransformKind kind, long seed, NDManager m) {
        int d = format.groupSize();
        int p = Padding.padded(layer.in(), d);
        int out = layer.out();
        int blocks = p / d;
        NDArray l = inverseHessianCholesky(layer, p, m);                     // (p, p) lower, float32
        NDArray errorsT = m.zeros(new Shape(p, out), DataType.FLOAT32);      // Eᵀ, filled batch by batch

        QuantFormat f = Formats.forTensor(format, transformedAbsMax(layer, format, kind, seed));
        byte[] codes = new byte[out * p];
        int[] scales = new int[out * blocks];
        List<BlockTransform> transforms = new ArrayList<>();
        for (int a0 = 0; a0 < p; a0 += LAZY) {
            int c = Math.min(LAZY, p - a0);
            double[] w = batchWeights(layer, a0, c, l, errorsT, m);          // (out, c), all earlier updates applied
            DMatrixRMaj lBatch = toEjml(l.get(new NDIndex("{}:{}, {}:{}", a0, a0 + c, a0, a0 + c)));  // (c, c)
            float[] errorsBatch = new float[c * out];                        // Eᵀ rows a0 .. a0+c
            for (int o = 0; o < c; o += d) {
                int b = (a0 + o) / d;
                BlockTransform t = Transforms.block(kind, b, LayerInput.weightGram(w, out, c, o, d),
                        layer.hessianBlock(a0 + o, d), seed);
                transforms.add(t);
                DMatrixRMaj lii = CommonOps_DDRM.extract(lBatch, o, o + d, o, o + d);
                double[] delta = quantizeBlock(w, out, c, o, a0 + o, p, d, t, lii, f, codes, scales, b);
                double[] e = errors(delta, out, d, lii);                     // (out, d): E_i = Δ L_ii⁻ᵀ
                pushErrorInBatch(w, out, c, o + d, e, d, lBatch);
                for (int r = 0; r < out; r++) {
                    for (int k = 0; k < d; k++) {
                        errorsBatch[(o + k) * out + r] = (float) e[r * d + k];
                    }
                }
            }
            if (a0 + c < p) { // later batches read these errors
                try (NDArray rows = m.create(errorsBatch, new Shape(c, out))) {
                    errorsT.set(new NDIndex("{}:{}", a0, a0 + c), rows);
                }
            }
        }
        LayerTransform transform = new LayerTransform(kind, d, transforms);
        return new QuantizedLayer(layer.name(), f, transform, out, layer.in(),
                new QuantizedMatrix(f, out, p, Fp4Packing.pack(codes), scales));
    }

    /**
     * {@code L} (p, p) with {@code L Lᵀ = (H + λ·mean(diag H)·I)⁻¹}, the Hessian zero-padded to p features
     * (the mean is over all p, as the padded matrix's), on the engine in float32.
     */
    public static NDArray inverseHessianCholesky(LayerInput layer, int p, NDManager m) {
        int in = layer.in();
        NDArray h;
        double trace = 0;
        if (layer.engineHessian() != null) {
            h = layer.engineHessian().toType(DataType.FLOAT32, true);
            h.attach(m);
            int d = layer.hessianBlock();
            for (int start = 0; start < p; start += d) {
                DMatrixRMaj block = layer.hessianBlock(start, d);
                trace += CommonOps_DDRM.trace(block);
            }
        } else {
            float[] values = new float[in * in];
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) layer.hessian()[i];
            }
            for (int i = 0; i < in; i++) {
                trace += layer.hessian()[i * in + i];
            }
            h = m.create(values, new Shape(in, in));
        }
        if (p > in) {
            try (NDArray right = m.zeros(new Shape(in, p - in), DataType.FLOAT32);
                    NDArray bottom = m.zeros(new Shape(p - in, p), DataType.FLOAT32); NDArray unpadded = h; NDArray wide = h.concat(right, 1)) {
                h = wide.concat(bottom, 0);
            }
        }
        double mean = trace / p;
        NDArray damped = h;                                               // our copy: damped in place
        if (mean > 0) {
            EngineCholesky.addToDiagonal(damped, (float) (Wush.LAMBDA * mean));
        } else { // an all-zero H: nothing to weigh
            damped.close();
            damped = m.eye(p);
        }
        try {
            return EngineCholesky.inverseLower(damped);
        } catch (ArithmeticException e) {
            throw new ArithmeticException(layer.name() + ": the damped Hessian is not positive definite");
        } finally {
            damped.close();
        }
    }

    /**
     * Columns [a0, a0+c) of the weight (zero beyond {@code in}) as float64 (out, c), with the updates of
     * every earlier batch applied: {@code W −= (L_(batch, <a0) · Eᵀ_(<a0))ᵀ}, one engine product.
     */
    private static double[] batchWeights(LayerInput layer, int a0, int c, NDArray l, NDArray errorsT, NDManager m) {
        int out = layer.out();
        int in = layer.in();
        double[] w = new double[out * c];
        int width = Math.max(0, Math.min(c, in - a0));
        float[] weight = layer.weight();
        for (int r = 0; r < out; r++) {
            for (int j = 0; j < width; j++) {
                w[r * c + j] = weight[r * in + a0 + j];
            }
        }
        if (a0 > 0) {
            float[] update;
            try (NDManager step = m.newSubManager()) {
                NDArray lRows = l.get(new NDIndex("{}:{}, :{}", a0, a0 + c, a0));       // (c, a0)
                lRows.attach(step);
                NDArray earlier = errorsT.get(new NDIndex(":{}", a0));                   // (a0, out)
                earlier.attach(step);
                NDArray product = lRows.matMul(earlier);                                  // (c, out)
                product.attach(step);
                update = product.toFloatArray();
            }
            for (int j = 0; j < c; j++) {
                for (int r = 0; r < out; r++) {
                    w[r * c + j] -= update[j * out + r];
                }
            }
        }
        return w;
    }

    /**
     * GPTQ inside the d columns at {@code o} of the (out, stride) batch {@code w} (global column {@code a}
     * of p) in the transformed space; writes codes and scales and returns the block's total error in the
     * original space, Δ (out, d).
     */
    private static double[] quantizeBlock(double[] w, int out, int stride, int o, int a, int p, int d, BlockTransform t,
            DMatrixRMaj lii, QuantFormat f, byte[] codes, int[] scales, int block) {
        double[] tInvT = t.weightSide().data;                  // T^(-T), d×d
        double[] tf = t.forward().data;                        // T, d×d
        // transformed inverse Hessian T^(-T) L_ii L_iiᵀ T⁻¹ = G Gᵀ, G = T^(-T) L_ii; its upper Cholesky factor
        DMatrixRMaj g = Linalg.mult(t.weightSide(), lii);
        double[] u = CommonOps_DDRM.transpose(Linalg.choleskyLower(Linalg.multTransB(g, g)), null).data; // upper

        int blocks = p / d;
        double[] delta = new double[out * d];
        IntStream.range(0, out).parallel().forEach(r -> {
            double[] wt = new double[d]; // W̃ row = W_i row · T^(-T)ᵀ
            for (int k = 0; k < d; k++) {
                double s = 0;
                for (int j = 0; j < d; j++) {
                    s += w[r * stride + o + j] * tInvT[k * d + j];
                }
                wt[k] = s;
            }
            float[] row = new float[d];
            for (int k = 0; k < d; k++) {
                row[k] = (float) wt[k];
            }
            int scaleCode = f.scaleCode(row, 0, d);             // computed once, frozen
            float scale = f.scaleValue(scaleCode);
            scales[r * blocks + block] = scaleCode;
            double[] deltaT = new double[d];                    // Δ̃ = W̃ (before) − Q̃
            double[] original = wt.clone();
            for (int j = 0; j < d; j++) {
                int code = f.encode((float) wt[j], scale);
                double q = f.decode(code, scale);
                codes[r * p + a + j] = (byte) code;
                double err = (wt[j] - q) / u[j * d + j];
                for (int k = j + 1; k < d; k++) {
                    wt[k] -= err * u[j * d + k];
                }
                deltaT[j] = original[j] - q;
            }
            for (int j = 0; j < d; j++) {                       // Δ = Δ̃ · T (back to the original space)
                double s = 0;
                for (int k = 0; k < d; k++) {
                    s += deltaT[k] * tf[k * d + j];
                }
                delta[r * d + j] = s;
            }
        });
        return delta;
    }

    /** {@code E = Δ L_ii⁻ᵀ} (out, d): each row solves {@code L_ii eᵀ = Δ_rowᵀ} by forward substitution. */
    private static double[] errors(double[] delta, int out, int d, DMatrixRMaj lii) {
        double[] e = new double[out * d];
        for (int r = 0; r < out; r++) {
            for (int i = 0; i < d; i++) {
                double s = delta[r * d + i];
                for (int k = 0; k < i; k++) {
                    s -= lii.get(i, k) * e[r * d + k];
                }
                e[r * d + i] = s / lii.get(i, i);
            }
        }
        return e;
    }

    /** {@code W[:, from:c] −= E · L_batch[from:c, from−d:from]ᵀ}: the later columns of the same batch. */
    private static void pushErrorInBatch(double[] w, int out, int c, int from, double[] e, int d, DMatrixRMaj lBatch) {
        if (from >= c) {
            return;
        }
        int a = from - d;
        IntStream.range(0, out).parallel().forEach(r -> {
            for (int i = from; i < c; i++) {
                double s = 0;
                for (int k = 0; k < d; k++) {
                    s += e[r * d + k] * lBatch.get(i, a + k);
                }
                w[r * c + i] -= s;
            }
        });
    }

    private static DMatrixRMaj toEjml(NDArray a) {
        try (a) {
            float[] v = a.toFloatArray();
            DMatrixRMaj m = new DMatrixRMaj((int) a.getShape().get(0), (int) a.getShape().get(1));
            for (int i = 0; i < v.length; i++) {
                m.data[i] = v[i];
            }
            return m;
        }
    }

    /** AbsMax of the transformed weights before any update (for a per-tensor NVFP4 global scale). */
    private static float transformedAbsMax(LayerInput layer, QuantFormat format, TransformKind kind, long seed) {
        if (!Formats.needsTensorScale(format)) {
            return 0;
        }
        QuantizedLayer rtn = Rtn.quantize(layer, format, kind, seed);
        float[] transformed = Padding.columns(layer.weight(), layer.out(), layer.in(), rtn.paddedIn());
        rtn.transform().applyToWeights(transformed, layer.out());
        return QuantFormat.absMax(transformed, 0, transformed.length);
    }
}
