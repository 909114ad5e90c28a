package dev.wush.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.wush.quant.format.Int4;
import dev.wush.quant.format.Mxfp4;
import dev.wush.quant.format.Nvfp4;
import dev.wush.quant.format.QuantFormat;
import dev.wush.quant.layer.Gptq;
import dev.wush.quant.layer.HessianAccumulator;
import dev.wush.quant.layer.LayerError;
import dev.wush.quant.layer.LayerInput;
import dev.wush.quant.layer.QuantizedLayer;
import dev.wush.quant.layer.Rtn;
import dev.wush.quant.transform.Linalg;
import dev.wush.quant.transform.TransformKind;
import dev.wush.quant.transform.Wush;
import java.util.List;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.LinearSolverFactory_DDRM;
import org.ejml.interfaces.linsol.LinearSolverDense;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class LayerAlgorithmsTest {

    static NDManager manager;

    @BeforeAll
    static void start() {
        manager = NDManager.newBaseManager("PyTorch");
    }

    @AfterAll
    static void stop() {
        manager.close();
    }

    /** A layer whose inputs have a few large-variance directions and correlated features. */
    record Layer(float[] x, int n, float[] w, int out, int in, double[] h) {
        LayerInput input(String name) {
            return new LayerInput(name, w, out, in, h);
        }
    }

    static Layer syntheticLayer(long seed, int n, int out, int in, double outlierScale) {
        Random random = new Random(seed);
        float[] x = new float[n * in];
        double[] mix = new double[in * in];
        for (int i = 0; i < in; i++) {
            mix[i * in + i] = 1;
            if (i + 1 < in) {
                mix[i * in + i + 1] = 0.6; // neighbouring features correlate
            }
        }
        for (int r = 0; r < n; r++) {
            double[] z = new double[in];
            for (int j = 0; j < in; j++) {
                z[j] = random.nextGaussian() * (j % 16 == 5 ? outlierScale : 1); // outlier channels
            }
            for (int i = 0; i < in; i++) {
                double s = 0;
                for (int j = 0; j < in; j++) {
                    s += z[j] * mix[j * in + i];
                }
                x[r * in + i] = (float) s;
            }
        }
        float[] w = new float[out * in];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (random.nextGaussian() * (i % in % 7 == 0 ? 3 : 1) / Math.sqrt(in));
        }
        return new Layer(x, n, w, out, in, hessian(x, n, in));
    }

    static double[] hessian(float[] x, int n, int in) {
        try (HessianAccumulator acc = new HessianAccumulator(manager, in)) {
            acc.add(manager.create(x, new Shape(n, in)));
            return acc.hessian();
        }
    }

    @Test
    void hessianAccumulatesBatchesInFloat32() {
        Random random = new Random(5);
        int in = 24;
        float[] a = new float[2 * 3 * in];
        float[] b = new float[7 * in];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) random.nextGaussian();
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = (float) random.nextGaussian() * 100;
        }
        try (HessianAccumulator acc = new HessianAccumulator(manager, in)) {
            acc.add(manager.create(a, new Shape(2, 3, in))); // any leading shape: every row is a token
            acc.add(manager.create(b, new Shape(7, in)));
            assertEquals(13, acc.tokens());
            double[] h = acc.hessian();
            float[] mean;
            try (NDManager m = manager.newSubManager()) {
                mean = acc.mean(m).toFloatArray();
            }
            double[] blocks = acc.diagonalBlocks(16); // 24 features: blocks 0..15 and 16..23 zero-padded to 32
            assertEquals(2 * 16 * 16, blocks.length);
            for (int i = 0; i < in; i++) {
                for (int j = 0; j < in; j++) {
                    double s = 0;
                    double magnitude = 0;
                    for (int r = 0; r < 6; r++) {
                        s += (double) a[r * in + i] * a[r * in + j];
                        magnitude += Math.abs((double) a[r * in + i] * a[r * in + j]);
                    }
                    for (int r = 0; r < 7; r++) {
                        s += (double) b[r * in + i] * b[r * in + j];
                        magnitude += Math.abs((double) b[r * in + i] * b[r * in + j]);
                    }
                    double tolerance = 1e-6 * magnitude / 13; // float32 sums: a few ulps of the terms' magnitude
                    assertEquals(s / 13, h[i * in + j], tolerance);
                    assertEquals(h[i * in + j], mean[i * in + j], 1e-7 * Math.abs(h[i * in + j]));
                    if (i / 16 == j / 16) {
                        assertEquals(h[i * in + j], blocks[(i / 16) * 256 + (i % 16) * 16 + j % 16], 1e-7 * Math.abs(h[i * in + j]));
                    }
                }
            }
            for (int i = 8; i < 16; i++) { // the padding of the second block
                for (int j = 0; j < 16; j++) {
                    assertEquals(0, blocks[256 + i * 16 + j]);
                    assertEquals(0, blocks[256 + j * 16 + i]);
                }
            }
            assertThrows(IllegalArgumentException.class, () -> acc.add(manager.create(new float[5], new Shape(1, 5))));
        }
    }

    @Test
    void blockDiagonalHessianIsTheFullOnesDiagonalBlocksAndRtnGivesTheSameLayer() {
        int in = 43; // not a multiple of the block: the last block is zero-padded
        Layer layer = syntheticLayer(11, 200, 24, in, 6);
        int d = 16;
        double[] blocks;
        try (HessianAccumulator acc = new HessianAccumulator(manager, in, d)) {
            acc.add(manager.create(java.util.Arrays.copyOfRange(layer.x(), 0, 70 * in), new Shape(70, in)));
            acc.add(manager.create(java.util.Arrays.copyOfRange(layer.x(), 70 * in, 200 * in), new Shape(130, in)));
            assertEquals(d, acc.blockSize());
            blocks = acc.hessian();
        }
        assertEquals(3 * d * d, blocks.length);
        for (int b = 0; b < 3; b++) {
            for (int i = 0; i < d; i++) {
                for (int j = 0; j < d; j++) {
                    int r = b * d + i;
                    int c = b * d + j;
                    double full = r < in && c < in ? layer.h()[r * in + c] : 0; // the full matrix is summed in float32
                    assertEquals(full, blocks[(b * d + i) * d + j], 1e-6 * (1 + Math.abs(full)), "block " + b + " (" + i + ", " + j + ")");
                }
            }
        }
        LayerInput diagonal = new LayerInput("l", layer.w(), layer.out(), in, blocks, d);
        for (TransformKind kind : List.of(TransformKind.WUSH, TransformKind.WUS, TransformKind.HADAMARD)) {
            assertArrayEquals(Rtn.quantize(layer.input("l"), Nvfp4.FIXED, kind, 2).dequantized(),
                    Rtn.quantize(diagonal, Nvfp4.FIXED, kind, 2).dequantized(), 1e-6f, kind.label());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Gptq.quantize(diagonal, Nvfp4.FIXED, TransformKind.WUSH, 0));
        assertTrue(e.getMessage().contains("full Hessian"), e.getMessage());
    }

    @ParameterizedTest
    @EnumSource(value = Format.class)
    void gptqWithTheIdentityTransformIsPlainGptq(Format format) {
        Layer layer = syntheticLayer(21, 400, 24, 80, 4); // 80 is not a multiple of 32: padded
        QuantizedLayer blocked = Gptq.quantize(layer.input("l"), format.format, TransformKind.IDENTITY, 0);
        float[] plain = plainGptq(layer, format.format, blocked.paddedIn());
        assertArrayEquals(plain, blocked.dequantized(), 1e-6f);
    }

    /**
     * Across lazy batches (300 features: batches of 128, 128 and 64 after padding) and through the
     * engine's float32 factorisation: the same codes as textbook float64 GPTQ, but for the few whose
     * value sits within float32 rounding of a decision boundary.
     */
    @ParameterizedTest
    @EnumSource(value = Format.class)
    void lazyBatchedFloat32GptqIsTextbookGptqAcrossBatches(Format format) {
        Layer layer = syntheticLayer(31, 900, 40, 300, 4);
        QuantizedLayer blocked = Gptq.quantize(layer.input("l"), format.format, TransformKind.IDENTITY, 0);
        float[] plain = plainGptq(layer, format.format, blocked.paddedIn());
        float[] got = blocked.dequantized();
        int differ = 0;
        for (int i = 0; i < plain.length; i++) {
            if (Math.abs(plain[i] - got[i]) > 1e-5f * (1 + Math.abs(plain[i]))) {
                differ++;
            }
        }
        assertTrue(differ <= plain.length / 1000, differ + " of " + plain.length + " weights differ from textbook GPTQ");
    }

    /** The pipeline's form (the whole Hessian on the engine beside its diagonal blocks) quantizes like the plain one. */
    @ParameterizedTest
    @EnumSource(value = TransformKind.class, names = {"IDENTITY", "HADAMARD", "WUSH"})
    void engineHessianGivesTheSameLayer(TransformKind kind) {
        Layer layer = syntheticLayer(32, 700, 36, 200, 4);
        for (QuantFormat f : List.of(Mxfp4.DEFAULT, Nvfp4.FIXED)) {
            int d = f.groupSize();
            double[] blocks;
            try (HessianAccumulator acc = new HessianAccumulator(manager, layer.in(), d)) {
                acc.add(manager.create(layer.x(), new Shape(layer.n(), layer.in())));
                blocks = acc.hessian();
            }
            try (NDManager m = manager.newSubManager()) {
                float[] full = new float[layer.h().length];
                for (int i = 0; i < full.length; i++) {
                    full[i] = (float) layer.h()[i];
                }
                LayerInput engine = new LayerInput("l", layer.w(), layer.out(), layer.in(), blocks, d,
                        m.create(full, new Shape(layer.in(), layer.in())));
                assertArrayEquals(Gptq.quantize(layer.input("l"), f, kind, 0).dequantized(), Gptq.quantize(engine, f, kind, 0).dequantized(),
                        1e-5f, kind + " " + f.name());
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = TransformKind.class, names = {"IDENTITY", "HADAMARD", "RANDOM"})
    void gptqWithAnIdentityHessianIsRtn(TransformKind kind) {
        Layer layer = syntheticLayer(22, 10, 16, 64, 1);
        double[] identity = new double[64 * 64];
        for (int i = 0; i < 64; i++) {
            identity[i * 64 + i] = 1;
        }
        LayerInput input = new LayerInput("l", layer.w(), 16, 64, identity);
        for (QuantFormat f : List.of(Mxfp4.DEFAULT, Nvfp4.FIXED, Int4.ABSMAX)) {
            assertArrayEquals(Rtn.quantize(input, f, kind, 3).dequantized(), Gptq.quantize(input, f, kind, 3).dequantized(),
                    1e-6f, f.name());
        }
    }

    @ParameterizedTest
    @EnumSource(value = TransformKind.class, names = {"IDENTITY", "HADAMARD", "WUSH"})
    void gptqLowersTheCalibrationOutputErrorOfRtn(TransformKind kind) {
        Layer layer = syntheticLayer(23, 1024, 48, 96, 3);
        for (QuantFormat f : List.of(Mxfp4.DEFAULT, Nvfp4.FIXED)) {
            double rtn = LayerError.normalized(manager, Rtn.quantize(layer.input("l"), f, kind, 0), layer.x(), layer.n(), layer.w(), false);
            double gptq = LayerError.normalized(manager, Gptq.quantize(layer.input("l"), f, kind, 0), layer.x(), layer.n(), layer.w(), false);
            assertTrue(gptq < 0.9 * rtn, kind + " " + f.name() + ": GPTQ " + gptq + " vs RTN " + rtn);
        }
    }

    @Test
    void wushBeatsHadamardAndIdentityOnOutlierBlocks() {
        Layer layer = syntheticLayer(24, 2048, 64, 128, 12);
        for (QuantFormat f : List.of(Mxfp4.DEFAULT, Int4.ABSMAX)) {
            double identity = w4a4(layer, f, TransformKind.IDENTITY);
            double hadamard = w4a4(layer, f, TransformKind.HADAMARD);
            double wush = w4a4(layer, f, TransformKind.WUSH);
            assertTrue(wush < hadamard && wush < identity,
                    f.name() + ": wush " + wush + ", hadamard " + hadamard + ", identity " + identity);
        }
    }

    @Test
    void rtnWithEveryTransformKeepsTheLayerFunctionBeforeQuantization() {
        // a transform without quantization error would be exact: check T and T⁻¹ pair up on the layer
        Layer layer = syntheticLayer(25, 64, 8, 40, 2);
        for (TransformKind kind : TransformKind.values()) {
            QuantizedLayer q = Rtn.quantize(layer.input("l"), Nvfp4.FIXED, kind, 1);
            double err = LayerError.normalized(manager, q, layer.x(), layer.n(), layer.w(), true);
            assertTrue(err > 0 && err < 0.05, kind + ": " + err);
        }
    }

    @Test
    void nonFiniteWeightNamesTheTensor() {
        float[] w = new float[4 * 32];
        w[37] = Float.NaN;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new LayerInput("model.layers.2.mlp.up_proj", w, 4, 32, new double[32 * 32]));
        assertTrue(e.getMessage().contains("model.layers.2.mlp.up_proj") && e.getMessage().contains("NaN")
                && e.getMessage().contains("(1, 5)"), e.getMessage());
        w[37] = Float.POSITIVE_INFINITY;
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new LayerInput("t", w, 4, 32, new double[32 * 32]))
                .getMessage().contains("Infinity"));
    }

    enum Format {
        MXFP4(Mxfp4.DEFAULT),
        NVFP4(Nvfp4.FIXED),
        INT4(Int4.ABSMAX);

        final QuantFormat format;

        Format(QuantFormat format) {
            this.format = format;
        }
    }

    static double w4a4(Layer layer, QuantFormat f, TransformKind kind) {
        return LayerError.normalized(manager, Rtn.quantize(layer.input("l"), f, kind, 0), layer.x(), layer.n(), layer.w(), true);
    }

    /** Textbook GPTQ over all columns at once (no blocks): the reference for the identity transform. */
    static float[] plainGptq(Layer layer, QuantFormat f, int p) {
        int in = layer.in();
        int out = layer.out();
        int g = f.groupSize();
        double[] h = new double[p * p];
        for (int i = 0; i < in; i++) {
            System.arraycopy(layer.h(), i * in, h, i * p, in);
        }
        DMatrixRMaj damped = Linalg.damp(DMatrixRMaj.wrap(p, p, h), Wush.LAMBDA);
        LinearSolverDense<DMatrixRMaj> solver = LinearSolverFactory_DDRM.chol(p);
        solver.setA(damped);
        DMatrixRMaj inv = new DMatrixRMaj(p, p);
        solver.invert(inv);
        DMatrixRMaj u = CommonOps_DDRM.transpose(Linalg.choleskyLower(inv), null); // upper, H⁻¹ = Uᵀ U
        double[][] w = new double[out][p];
        for (int r = 0; r < out; r++) {
            for (int c = 0; c < in; c++) {
                w[r][c] = layer.w()[r * in + c];
            }
        }
        float[] q = new float[out * p];
        float[] scale = new float[out];
        for (int j = 0; j < p; j++) {
            for (int r = 0; r < out; r++) {
                if (j % g == 0) {
                    float[] group = new float[g];
                    for (int k = 0; k < g; k++) {
                        group[k] = (float) w[r][j + k];
                    }
                    scale[r] = f.scaleValue(f.scaleCode(group, 0, g));
                }
                double v = f.roundTrip((float) w[r][j], scale[r]);
                q[r * p + j] = (float) v;
                double err = (w[r][j] - v) / u.get(j, j);
                for (int k = j + 1; k < p; k++) {
                    w[r][k] -= err * u.get(j, k);
                }
            }
        }
        return q;
    }
}
