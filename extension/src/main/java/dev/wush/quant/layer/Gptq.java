package dev.wush.quant.layer;

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
import org.ejml.dense.row.factory.LinearSolverFactory_DDRM;
import org.ejml.interfaces.linsol.LinearSolverDense;

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
 *       later columns through L: {@code W_later −= Δ L_ii^(-T) L_(later,i)ᵀ}.
 * </ol>
 *
 * With the identity transform this is plain GPTQ; with an identity Hessian and an orthogonal
 * transform, RTN.
 */
public final class Gptq {

    private Gptq() {}

    public static QuantizedLayer quantize(LayerInput layer, QuantFormat format, TransformKind kind, long seed) {
        int d = format.groupSize();
        int p = Padding.padded(layer.in(), d);
        int out = layer.out();
        int blocks = p / d;
        if (layer.hessianBlock() != 0) {
            throw new IllegalArgumentException(layer.name() + ": GPTQ needs the full Hessian, not its diagonal blocks");
        }
        double[] w = layer.paddedWeight(p);                              // (out, p), updated in place
        double[] h = Padding.square(layer.hessian(), layer.in(), p);     // (p, p)
        DMatrixRMaj l = inverseHessianCholesky(h, p);                    // (p, p) lower

        QuantFormat f = Formats.forTensor(format, transformedAbsMax(layer, format, kind, seed));
        byte[] codes = new byte[out * p];
        int[] scales = new int[out * blocks];
        List<BlockTransform> transforms = new ArrayList<>();
        for (int b = 0; b < blocks; b++) {
            int a = b * d;
            BlockTransform t = Transforms.block(kind, b, LayerInput.weightGram(w, out, p, a, d),
                    LayerInput.diagonalBlock(h, p, a, d), seed);
            transforms.add(t);
            DMatrixRMaj lii = CommonOps_DDRM.extract(l, a, a + d, a, a + d);
            double[] delta = quantizeBlock(w, out, p, a, d, t, lii, f, codes, scales, b);
            pushError(w, out, p, a + d, delta, d, lii, l);
        }
        LayerTransform transform = new LayerTransform(kind, d, transforms);
        return new QuantizedLayer(layer.name(), f, transform, out, layer.in(),
                new QuantizedMatrix(f, out, p, Fp4Packing.pack(codes), scales));
    }

    /** {@code L} with {@code L Lᵀ = (H + λ·mean(diag H)·I)⁻¹}. */
    static DMatrixRMaj inverseHessianCholesky(double[] h, int p) {
        DMatrixRMaj damped = Linalg.damp(DMatrixRMaj.wrap(p, p, h.clone()), Wush.LAMBDA);
        LinearSolverDense<DMatrixRMaj> solver = LinearSolverFactory_DDRM.chol(p);
        if (!solver.setA(damped)) {
            throw new ArithmeticException("the damped Hessian is not positive definite");
        }
        DMatrixRMaj inverse = new DMatrixRMaj(p, p);
        solver.invert(inverse);
        return Linalg.choleskyLower(inverse);
    }

    /**
     * GPTQ inside block [a, a+d) in the transformed space; writes codes and scales and returns the
     * block's total error in the original space, Δ (out, d).
     */
    private static double[] quantizeBlock(double[] w, int out, int p, int a, int d, BlockTransform t,
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
                    s += w[r * p + a + j] * tInvT[k * d + j];
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

    /** {@code W[:, from:] −= Δ · L_ii^(-T) · L[from:, block]ᵀ}. */
    private static void pushError(double[] w, int out, int p, int from, double[] delta, int d,
            DMatrixRMaj lii, DMatrixRMaj l) {
        int later = p - from;
        if (later == 0) {
            return;
        }
        DMatrixRMaj lLaterT = new DMatrixRMaj(d, later);     // L[from:, a:a+d]ᵀ
        int a = from - d;
        for (int i = 0; i < later; i++) {
            for (int k = 0; k < d; k++) {
                lLaterT.set(k, i, l.get(from + i, a + k));
            }
        }
        double[] kMat = Linalg.solveLowerTransposed(lii, lLaterT).data; // L_iiᵀ K = L_laterᵀ, (d, later)
        IntStream.range(0, out).parallel().forEach(r -> {
            int rowOff = r * p + from;
            for (int k = 0; k < d; k++) {
                double dk = delta[r * d + k];
                if (dk == 0) {
                    continue;
                }
                int kOff = k * later;
                for (int i = 0; i < later; i++) {
                    w[rowOff + i] -= dk * kMat[kOff + i];
                }
            }
        });
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
