package dev.wush.kernel;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wush.quant.format.GroupQuantizer;
import dev.wush.quant.format.Int4;
import dev.wush.quant.format.Mxfp4;
import dev.wush.quant.format.Nvfp4;
import dev.wush.quant.format.QuantFormat;
import dev.wush.quant.format.QuantizedMatrix;
import dev.wush.quant.layer.LayerInput;
import dev.wush.quant.layer.LayerTransform;
import dev.wush.quant.transform.BlockTransform;
import org.ejml.dense.row.CommonOps_DDRM;
import dev.wush.quant.layer.QuantizedLayer;
import dev.wush.quant.layer.Rtn;
import dev.wush.quant.transform.TransformKind;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The native kernels against the Java fallback (bit-identical quantization and transforms) and both
 * against the dequantize-and-matmul reference (products equal up to float32 summation order).
 */
class Fp4KernelsTest {

    static final List<QuantFormat> FP4 = List.of(Mxfp4.DEFAULT, new Mxfp4(Mxfp4.Rule.OCP), Nvfp4.FIXED, Nvfp4.perTensor(37.5f));

    static Fp4Kernels nativeKernels() {
        Fp4Kernels k = Fp4Kernels.nativeKernels();
        // the build compiles the library wherever gcc exists (it does in CI): not loading it is a failure here
        assertNotNull(k, () -> "native kernels did not load: " + NativeFp4Kernels.loadError());
        return k;
    }

    /** The native kernels at every instruction set this CPU runs (scalar, avx2, avx512-vnni, …). */
    static List<Fp4Kernels> nativeVariants() {
        nativeKernels();
        return Fp4Kernels.nativeVariants();
    }

    /** Every native instruction set this machine runs, and the Java fallback. */
    static Stream<Arguments> implementations() {
        List<Arguments> all = new ArrayList<>();
        for (Fp4Kernels k : nativeVariants()) {
            all.add(Arguments.of(k.name(), k));
        }
        all.add(Arguments.of("java", Fp4Kernels.java()));
        return all.stream();
    }

    /** The implementations as a list. */
    static List<Fp4Kernels> allKernels() {
        List<Fp4Kernels> all = new ArrayList<>(nativeVariants());
        all.add(Fp4Kernels.java());
        return all;
    }

    /** Activation-like rows: Gaussian with a few large outlier features, a zero group and tiny values. */
    static float[] activations(int rows, int p, long seed) {
        Random random = new Random(seed);
        float[] x = new float[rows * p];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (random.nextGaussian() * (i % p % 37 == 5 ? 20 : 1));
        }
        for (int k = 0; k < Math.min(32, p); k++) {
            x[k] = 0; // an all-zero group in row 0
        }
        if (rows > 1) {
            x[p + 1] = 1e-30f; // a subnormal-scale group neighbour
        }
        return x;
    }

    /** Per-block transposed transforms: a random matrix per block, stride d·d. */
    static float[] randomTransforms(int blocks, int d, long seed) {
        Random random = new Random(seed);
        float[] t = new float[blocks * d * d];
        for (int i = 0; i < t.length; i++) {
            t[i] = (float) (random.nextGaussian() / Math.sqrt(d));
        }
        return t;
    }

    @Test
    void nativeLibraryLoadsAndUsesTheVectorPathOnThisMachine() {
        Fp4Kernels k = nativeKernels();
        assertTrue(k.name().startsWith("native"), k.name());
        assertEquals(k.name(), Fp4Kernels.get().name(), "the default kernels are the native ones when they load");
    }

    @Test
    void theBestInstructionSetOfThisCpuIsTheDefaultAndEveryLowerOneIsOffered() {
        List<Fp4Kernels> variants = nativeVariants();
        assertEquals("native (scalar)", variants.get(0).name());
        assertEquals(variants.get(variants.size() - 1).name(), nativeKernels().name(), "the default is the best level");
        String flags = cpuFlags();
        boolean vnni = flags.contains(" avx512_vnni") && flags.contains(" avx512bw") && flags.contains(" avx512vl");
        boolean avx2 = flags.contains(" avx2") && flags.contains(" fma");
        String expected = vnni && avx2 ? "native (avx512-vnni)" : avx2 ? "native (avx2)" : "native (scalar)";
        assertEquals(expected, nativeKernels().name(), "the level /proc/cpuinfo promises");
    }

    static String cpuFlags() {
        try {
            return java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("flags"))
                    .findFirst().orElse("") + " ";
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("implementations")
    void theFusedLinearEqualsQuantizeThenProduct(String label, Fp4Kernels k) {
        for (QuantFormat f : FP4) {
            int d = f.groupSize();
            int p = 11 * 32;
            int out = 19;
            Fp4Scales s = Fp4Scales.of(f);
            QuantizedMatrix w = GroupQuantizer.quantize(f, activations(out, p, 4), out, p);
            MemorySegment wc = MemorySegment.ofArray(SplitNibbles.fromStandard(w.packedCodes(), out, p));
            MemorySegment ws = MemorySegment.ofArray(bytes(w.scaleCodes()));
            MemorySegment lut = MemorySegment.ofArray(s.values());
            MemorySegment tt = MemorySegment.ofArray(randomTransforms(p / d, d, 6));
            for (int rows : new int[] {1, 4}) {
                MemorySegment x = MemorySegment.ofArray(activations(rows, p, 7));
                byte[] codes = new byte[rows * p / 2];
                byte[] scales = new byte[rows * p / d];
                k.quantizeRows(x, 0, rows, p, d, tt, (long) d * d, s, MemorySegment.ofArray(codes), MemorySegment.ofArray(scales));
                float[] expected = new float[rows * out];
                k.gemmW4A4(MemorySegment.ofArray(codes), MemorySegment.ofArray(scales), rows, wc, ws, 0, out, p, d, lut, lut,
                        MemorySegment.ofArray(expected), out);
                float[] fused = new float[rows * out];
                for (long[] range : new long[][] {{0, 7}, {7, out}}) {
                    k.linearW4A4(x, rows, p, d, tt, (long) d * d, s, wc, ws, range[0], range[1], lut, MemorySegment.ofArray(fused), out);
                }
                assertArrayEquals(expected, fused, f.name() + " rows " + rows);
            }
        }
    }

    @Test
    void everyVectorLevelComputesBitIdenticalProductsToAvx2() {
        List<Fp4Kernels> variants = nativeVariants();
        org.junit.jupiter.api.Assumptions.assumeTrue(variants.size() > 2, "this CPU has no level above avx2");
        Fp4Kernels avx2 = variants.get(1);
        assertEquals("native (avx2)", avx2.name());
        for (Fp4Kernels k : variants.subList(2, variants.size())) {
            for (QuantFormat f : FP4) {
                int d = f.groupSize();
                Fp4Scales s = Fp4Scales.of(f);
                MemorySegment lut = MemorySegment.ofArray(s.values());
                for (int p : new int[] {320, 352, 2048}) {
                    int out = 21;
                    QuantizedMatrix w = GroupQuantizer.quantize(f, activations(out, p, 8), out, p);
                    MemorySegment wc = MemorySegment.ofArray(SplitNibbles.fromStandard(w.packedCodes(), out, p));
                    MemorySegment ws = MemorySegment.ofArray(bytes(w.scaleCodes()));
                    for (int rows : new int[] {1, 3, 4, 9, 37}) {
                        QuantizedMatrix a = GroupQuantizer.quantize(f, activations(rows, p, 9 + rows), rows, p);
                        float[] expected = new float[rows * out];
                        float[] actual = new float[rows * out];
                        avx2.gemmW4A4(MemorySegment.ofArray(a.packedCodes()), MemorySegment.ofArray(bytes(a.scaleCodes())), rows, wc, ws, 0,
                                out, p, d, lut, lut, MemorySegment.ofArray(expected), out);
                        k.gemmW4A4(MemorySegment.ofArray(a.packedCodes()), MemorySegment.ofArray(bytes(a.scaleCodes())), rows, wc, ws, 0, out,
                                p, d, lut, lut, MemorySegment.ofArray(actual), out);
                        assertArrayEquals(expected, actual, k.name() + " " + f.name() + " p " + p + " rows " + rows);
                    }
                }
            }
        }
    }

    @Test
    void quantizationIsBitIdenticalToTheJavaFallbackForEveryFormatAndTransform() {
        for (Fp4Kernels nat : nativeVariants()) {
            quantizationIsBitIdenticalToTheJavaFallback(nat);
        }
    }

    private void quantizationIsBitIdenticalToTheJavaFallback(Fp4Kernels nat) {
        for (QuantFormat f : FP4) {
            int d = f.groupSize();
            int rows = 5;
            int p = 8 * d;
            Fp4Scales s = Fp4Scales.of(f);
            float[] x = activations(rows, p, 1);
            float[] random = randomTransforms(p / d, d, 2);
            for (MemorySegment tt : List.of(MemorySegment.NULL, MemorySegment.ofArray(random))) {
                for (long stride : tt.equals(MemorySegment.NULL) ? new long[] {0} : new long[] {0, (long) d * d}) {
                    byte[] c1 = new byte[rows * p / 2];
                    byte[] s1 = new byte[rows * p / d];
                    byte[] c2 = c1.clone();
                    byte[] s2 = s1.clone();
                    nat.quantizeRows(MemorySegment.ofArray(x), 0, rows, p, d, tt, stride, s, MemorySegment.ofArray(c1), MemorySegment.ofArray(s1));
                    Fp4Kernels.java().quantizeRows(MemorySegment.ofArray(x), 0, rows, p, d, tt, stride, s, MemorySegment.ofArray(c2),
                            MemorySegment.ofArray(s2));
                    assertArrayEquals(c2, c1, nat.name() + " " + f.name() + " codes, stride " + stride);
                    assertArrayEquals(s2, s1, nat.name() + " " + f.name() + " scales, stride " + stride);
                    float[] y1 = new float[rows * p];
                    float[] y2 = new float[rows * p];
                    nat.transformRows(MemorySegment.ofArray(x), 0, rows, p, d, tt, stride, MemorySegment.ofArray(y1));
                    Fp4Kernels.java().transformRows(MemorySegment.ofArray(x), 0, rows, p, d, tt, stride, MemorySegment.ofArray(y2));
                    assertArrayEquals(y2, y1, nat.name() + " " + f.name() + " transform, stride " + stride);
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("implementations")
    void untransformedQuantizationMatchesTheFormatsOwnQuantizer(String label, Fp4Kernels k) {
        for (QuantFormat f : FP4) {
            int d = f.groupSize();
            int rows = 7;
            int p = 6 * d;
            float[] x = activations(rows, p, 3);
            byte[] codes = new byte[rows * p / 2];
            byte[] scales = new byte[rows * p / d];
            k.quantizeRows(MemorySegment.ofArray(x), 0, rows, p, d, MemorySegment.NULL, 0, Fp4Scales.of(f), MemorySegment.ofArray(codes),
                    MemorySegment.ofArray(scales));
            QuantizedMatrix expected = GroupQuantizer.quantize(f, x, rows, p);
            assertArrayEquals(expected.packedCodes(), codes, f.name());
            for (int i = 0; i < scales.length; i++) {
                assertEquals(expected.scaleCodes()[i], scales[i] & 0xFF, f.name() + " scale " + i);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("implementations")
    void packedProductsMatchDequantizeAndMatmul(String label, Fp4Kernels k) {
        for (QuantFormat f : FP4) {
            for (int p : new int[] {10 * 32, 11 * 32}) { // 11: an odd number of 32-chunks, the 64-wide paths' tail
                int d = f.groupSize();
                int out = 23;
                Fp4Scales s = Fp4Scales.of(f);
                QuantizedMatrix w = GroupQuantizer.quantize(f, activations(out, p, 4), out, p);
                float[] wd = w.dequantize();
                byte[] ws = bytes(w.scaleCodes());
                byte[] wc = SplitNibbles.fromStandard(w.packedCodes(), out, p);
                assertArrayEquals(w.packedCodes(), SplitNibbles.toStandard(wc, out, p));
                for (int rows : new int[] {1, 3, 4, 9, 16, 37}) { // 37: two blocks of 32 tokens, a ragged end
                    float[] x = activations(rows, p, 5 + rows);
                    QuantizedMatrix a = GroupQuantizer.quantize(f, x, rows, p);
                    float[] y = new float[rows * out];
                    // two calls on halves of the output range, as the threads split it
                    for (long[] range : new long[][] {{0, 11}, {11, out}}) {
                        k.gemmW4A4(MemorySegment.ofArray(a.packedCodes()), MemorySegment.ofArray(bytes(a.scaleCodes())), rows,
                                MemorySegment.ofArray(wc), MemorySegment.ofArray(ws), range[0], range[1], p, d,
                                MemorySegment.ofArray(s.values()), MemorySegment.ofArray(s.values()), MemorySegment.ofArray(y), out);
                    }
                    assertClose(matmul(a.dequantize(), wd, rows, out, p), y, f.name() + " W4A4 rows " + rows);
                    float[] y16 = new float[rows * out];
                    k.gemvW4A16(MemorySegment.ofArray(x), rows, MemorySegment.ofArray(wc), MemorySegment.ofArray(ws), 0, out, p, d,
                            MemorySegment.ofArray(s.values()), MemorySegment.ofArray(y16), out);
                    assertClose(matmul(x, wd, rows, out, p), y16, f.name() + " W4A16 rows " + rows);
                }
            }
        }
    }

    static Stream<Arguments> layers() {
        List<Arguments> cases = new ArrayList<>();
        for (QuantFormat f : List.of(Mxfp4.DEFAULT, Nvfp4.FIXED, Int4.ABSMAX)) {
            for (TransformKind t : List.of(TransformKind.IDENTITY, TransformKind.HADAMARD, TransformKind.WUSH)) {
                for (int in : new int[] {64, 172}) { // 172: padded to 176 (NVFP4, then 192 for the kernels) or 192
                    for (boolean a : new boolean[] {true, false}) {
                        cases.add(Arguments.of(f, t, in, a));
                    }
                }
            }
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{0} {1} in={2} W4A4={3}")
    @MethodSource("layers")
    void packedLayerMatchesTheDequantizedReference(QuantFormat f, TransformKind t, int in, boolean quantizeActivations) {
        int out = 40;
        int rows = 6;
        Random random = new Random(in);
        float[] w = new float[out * in];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) random.nextGaussian();
        }
        double[] h = new double[in * in];
        float[] calib = activations(64, in, 9);
        for (int r = 0; r < 64; r++) {
            for (int i = 0; i < in; i++) {
                for (int j = 0; j < in; j++) {
                    h[i * in + j] += (double) calib[r * in + i] * calib[r * in + j] / 64;
                }
            }
        }
        QuantizedLayer q = Rtn.quantize(new LayerInput("test.layer", w, out, in, h), f, t, 0);
        float[] x = activations(rows, in, 11);
        float[] xq = q.prepareActivations(x, rows, quantizeActivations);
        float[] expected = matmul(xq, q.dequantized(), rows, out, q.paddedIn());
        for (Fp4Kernels k : allKernels()) {
            PackedLayer packed = new PackedLayer(q, quantizeActivations, k);
            float[] y = packed.forward(x.clone(), rows);
            String what = f.name() + " " + t + " " + k.name();
            if (!quantizeActivations) {
                // W4A16: nothing is rounded to 4 bits on the activation side, so only float32 arithmetic separates
                // the two; each output must be within its own rounding-error bound
                assertWithinFloat32Bound(x, xq, q, expected, y, rows, what);
            } else {
                // W4A4: transforms run in float32 here and in float64 in the reference, so an element at a rounding
                // boundary may land on the neighbouring 4-bit code; compare the layer output, not bits
                assertClose(expected, y, t == TransformKind.IDENTITY ? 1e-5 : 2e-2, what);
            }
            QuantizedMatrix back = packed.weight();
            assertArrayEquals(q.weight().packedCodes(), back.packedCodes(), "codes survive packing");
            assertArrayEquals(q.weight().scaleCodes(), back.scaleCodes(), "scales survive packing");
        }
    }

    /**
     * Layers that read one input, run together ({@link PackedLayer#forwardShared}: one fork-join over all their
     * outputs, on two threads), and each layer alone give bit for bit the layer-by-layer path of more rows
     * (quantize every row, then the products), for 1 to 4 rows, with outputs that split
     * inside a layer and across layers, a padded input size, and a transform per layer.
     */
    @Test
    void sharedInputLayersMatchEachLayersForward() {
        int in = 1000; // padded to 1024 for the kernels
        int[] outs = {520, 132, 260};
        TransformKind[] transforms = {TransformKind.WUSH, TransformKind.IDENTITY, TransformKind.HADAMARD};
        float[] calib = activations(64, in, 21);
        double[] h = new double[in * in];
        for (int r = 0; r < 64; r++) {
            for (int i = 0; i < in; i++) {
                for (int j = 0; j < in; j++) {
                    h[i * in + j] += (double) calib[r * in + i] * calib[r * in + j] / 64;
                }
            }
        }
        int before = KernelThreads.threads();
        KernelThreads.set(2);
        try {
            for (QuantFormat f : List.of(Mxfp4.DEFAULT, Nvfp4.FIXED)) {
                for (Fp4Kernels k : allKernels()) {
                    PackedLayer[] layers = new PackedLayer[outs.length];
                    for (int i = 0; i < outs.length; i++) {
                        Random random = new Random(i);
                        float[] w = new float[outs[i] * in];
                        for (int j = 0; j < w.length; j++) {
                            w[j] = (float) random.nextGaussian();
                        }
                        layers[i] = new PackedLayer(Rtn.quantize(new LayerInput("shared." + i, w, outs[i], in, h), f, transforms[i], 0), true, k);
                    }
                    for (int rows = 1; rows <= 4; rows++) {
                        assertTrue(PackedLayer.canShare(layers, rows));
                        float[] x = activations(rows, in, 30 + rows);
                        MemorySegment[] ys = new MemorySegment[outs.length];
                        for (int i = 0; i < outs.length; i++) {
                            ys[i] = MemorySegment.ofArray(new float[rows * outs[i]]);
                        }
                        PackedLayer.forwardShared(MemorySegment.ofArray(x), rows, layers, ys);
                        // reference: the layer-by-layer path for more rows than decoding takes (quantize all rows, then the
                        // products); rows are independent, so its first rows are what the shared call must give
                        float[] more = java.util.Arrays.copyOf(x, (PackedLayer.FUSED_ROWS + 1) * in);
                        System.arraycopy(activations(PackedLayer.FUSED_ROWS + 1 - rows, in, 99), 0, more, rows * in,
                                (PackedLayer.FUSED_ROWS + 1 - rows) * in);
                        for (int i = 0; i < outs.length; i++) {
                            float[] want = java.util.Arrays.copyOf(layers[i].forward(more, PackedLayer.FUSED_ROWS + 1), rows * outs[i]);
                            assertArrayEquals(want, ys[i].toArray(JAVA_FLOAT), f.name() + " " + k.name() + " layer " + i + " rows " + rows);
                            assertArrayEquals(want, layers[i].forward(x.clone(), rows), f.name() + " " + k.name() + " layer " + i
                                    + " alone, rows " + rows);
                        }
                    }
                    assertFalse(PackedLayer.canShare(layers, 5), "more rows than decoding has go layer by layer");
                }
            }
        } finally {
            KernelThreads.set(before);
        }
    }

    @Test
    void residentMemoryIsFourBitsPlusScalesPlusTransforms() {
        int out = 4096;
        int in = 4096;
        QuantizedMatrix w = new QuantizedMatrix(Mxfp4.DEFAULT, out, in, new byte[out * in / 2], new int[out * in / 32]);
        // identity and Hadamard: 4 + 8/32 bits (+ one shared 32×32 matrix and the 1 KiB scale table)
        QuantizedLayer identity = new QuantizedLayer("l", Mxfp4.DEFAULT, identity(32, in), out, in, w);
        double bits = 8.0 * PackedLayer.of(identity, true).residentBytes() / ((double) out * in);
        assertEquals(4.25, bits, 0.01);
    }

    @Test
    void nanActivationsPropagateToTheirRowsOnly() {
        for (Fp4Kernels k : allKernels()) {
            QuantFormat f = Mxfp4.DEFAULT;
            int p = 64;
            int out = 8;
            QuantizedMatrix w = GroupQuantizer.quantize(f, activations(out, p, 1), out, p);
            QuantizedLayer q = new QuantizedLayer("nan", f, identity(32, p), out, p, w);
            float[] x = activations(2, p, 2);
            x[p + 40] = Float.NaN;
            float[] y = new PackedLayer(q, true, k).forward(x, 2);
            for (int o = 0; o < out; o++) {
                assertTrue(Float.isFinite(y[o]), "row 0 stays finite");
                assertTrue(Float.isNaN(y[out + o]), "row 1 is NaN");
            }
        }
    }

    @Test
    void nativeCallsCheckTheirArgumentsInsteadOfCrashing() {
        Fp4Kernels k = nativeKernels();
        Fp4Scales s = Fp4Scales.of(Mxfp4.DEFAULT);
        MemorySegment small = MemorySegment.ofArray(new byte[10]);
        var e = assertThrows(IndexOutOfBoundsException.class, () -> k.gemmW4A4(small, small, 1, small, small, 0, 4, 64, 32,
                MemorySegment.ofArray(s.values()), MemorySegment.ofArray(s.values()), MemorySegment.ofArray(new float[4]), 4));
        assertTrue(e.getMessage().contains("weight codes"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> k.gemvW4A16(MemorySegment.ofArray(new float[48]), 1, small, small, 0, 1, 48,
                16, MemorySegment.ofArray(s.values()), MemorySegment.ofArray(new float[1]), 1));
        assertThrows(IllegalArgumentException.class, () -> Fp4Scales.of(Int4.ABSMAX));
    }

    static LayerTransform identity(int d, int p) {
        List<BlockTransform> blocks = new ArrayList<>();
        for (int b = 0; b < p / d; b++) {
            blocks.add(new BlockTransform(CommonOps_DDRM.identity(d), CommonOps_DDRM.identity(d)));
        }
        return new LayerTransform(TransformKind.IDENTITY, d, blocks);
    }

    static byte[] bytes(int[] codes) {
        byte[] b = new byte[codes.length];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) codes[i];
        }
        return b;
    }

    /** (rows, p) · (out, p)ᵀ in float64. */
    static float[] matmul(float[] x, float[] w, int rows, int out, int p) {
        float[] y = new float[rows * out];
        for (int r = 0; r < rows; r++) {
            for (int o = 0; o < out; o++) {
                double s = 0;
                for (int k = 0; k < p; k++) {
                    s += (double) x[r * p + k] * w[o * p + k];
                }
                y[r * out + o] = (float) s;
            }
        }
        return y;
    }

    /**
     * The standard rounding-error bound of float32 arithmetic (unit roundoff u = 2^-24), per output element:
     * the reference computes x' = x·Tᵀ in double and rounds it once; the packed layer computes x' in float32
     * (a dot product of length d, the transform block: error ≤ d·u·(|x|·|Tᵀ|)_k) and then the product
     * x'·Ŵᵀ in float32 (length n = paddedIn: ≤ n·u·Σ|x'_k||ŵ_ok|; one more u for forming ŵ from code and scale,
     * one for the reference's own rounding of x'). So
     * {@code |y_o − ŷ_o| ≤ u·Σ_k ((n+2)·|x'_k| + d·(|x|·|Tᵀ|)_k)·|ŵ_ok|}, with Tᵀ read off by transforming
     * unit vectors; xt (rows, n) are the reference's transformed activations x'. The bound is worst-case: the
     * largest error measured here is 4% of it (2026-12-02).
     */
    static void assertWithinFloat32Bound(float[] x, float[] xt, QuantizedLayer q, float[] expected, float[] actual, int rows,
            String what) {
        int n = q.paddedIn();
        int out = q.out();
        int d = q.transform().blockSize();
        double u = Math.ulp(1.0f) / 2;
        float[] t = new float[n * n]; // row j: e_j · Tᵀ, so t[j][k] = Tᵀ_jk
        for (int j = 0; j < n; j++) {
            t[j * n + j] = 1;
        }
        q.transform().applyToActivations(t, n);
        float[] xPadded = new float[rows * n];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(x, r * q.in(), xPadded, r * n, q.in());
        }
        float[] w = q.dequantized(); // (out, n)
        for (int r = 0; r < rows; r++) {
            double[] weight = new double[n]; // (n+2)·|x'_k| + d·(|x|·|Tᵀ|)_k
            for (int k = 0; k < n; k++) {
                double absTransform = 0;
                for (int j = 0; j < n; j++) {
                    absTransform += Math.abs((double) xPadded[r * n + j] * t[j * n + k]);
                }
                weight[k] = (n + 2) * Math.abs((double) xt[r * n + k]) + d * absTransform;
            }
            for (int o = 0; o < out; o++) {
                double bound = 0;
                for (int k = 0; k < n; k++) {
                    bound += weight[k] * Math.abs(w[o * n + k]);
                }
                bound *= u;
                double error = Math.abs((double) actual[r * out + o] - expected[r * out + o]);
                assertTrue(error <= bound, what + " W4A16 row " + r + " output " + o + ": error " + error + " > bound " + bound);
            }
        }
    }

    static void assertClose(float[] expected, float[] actual, String what) {
        assertClose(expected, actual, 1e-5, what);
    }

    /** Max |difference| relative to the RMS of the expected values. */
    static void assertClose(float[] expected, float[] actual, double tolerance, String what) {
        assertEquals(expected.length, actual.length, what);
        double ss = 0;
        double worst = 0;
        for (int i = 0; i < expected.length; i++) {
            ss += (double) expected[i] * expected[i];
            worst = Math.max(worst, Math.abs((double) expected[i] - actual[i]));
        }
        double rms = Math.sqrt(ss / expected.length);
        assertTrue(worst <= tolerance * rms, what + ": max error " + worst + " vs rms " + rms);
    }
}
