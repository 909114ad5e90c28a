package dev.wush.kernel.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.wush.kernel.Fp4Kernels;
import dev.wush.kernel.Fp4Scales;
import dev.wush.kernel.PackedLayer;
import dev.wush.quant.format.Int4;
import dev.wush.quant.format.Mxfp4;
import dev.wush.quant.format.Nvfp4;
import dev.wush.quant.format.QuantFormat;
import dev.wush.quant.layer.LayerInput;
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
 * The CUDA kernels from Java through FFM, on device buffers this library allocates (DJL's CUDA build cannot
 * be installed on the GPU test machine). Without a CUDA device the device tests are skipped with the reason;
 * the library's loading and its no-device behaviour are tested everywhere.
 */
class CudaKernelsTest {

    static final boolean BUILT = CudaKernels.class.getResource(CudaKernels.RESOURCE) != null;

    /** Skips without a device; with -Dwush.cuda.require=true (the GPU machine's runs) a missing device fails instead. */
    static void assumeDevice() {
        String why = "no CUDA device: " + (CudaKernels.instance() == null ? CudaKernels.loadError() : CudaKernels.instance().whyNoDevice());
        if (Boolean.getBoolean("wush.cuda.require")) {
            assertTrue(CudaKernels.available(), why);
        }
        assumeTrue(CudaKernels.available(), why);
    }

    @Test
    void libraryLoadsWhereItWasBuilt() {
        if (!BUILT) {
            assertNull(CudaKernels.instance());
            assertTrue(CudaKernels.loadError().contains("not in the jar"), CudaKernels.loadError());
            CudaException e = assertThrows(CudaException.class, CudaKernels::require);
            assertTrue(e.getMessage().contains("did not load"), e.getMessage());
            return;
        }
        // built by the cuda profile: the library must load even without a GPU or driver
        CudaKernels cuda = CudaKernels.instance();
        assertNotNull(cuda, () -> "CUDA kernels did not load: " + CudaKernels.loadError());
        assertTrue(cuda.compiledArchs().contains("sm_90"), cuda.compiledArchs());
        assertTrue(cuda.compiledArchs().contains("sm_120a"), cuda.compiledArchs());
        assertEquals("gemv-dp4a", cuda.gemmKernelName(1, 4096, 32, CudaKernels.SCALE_E8M0));
        // the FP4 tensor cores only where the device has them and the kernel passed its self-check
        String tile = cuda.fp4MmaStatus().startsWith("active") ? "tc-fp4-mma" : "tc-bf16-wmma";
        assertEquals(tile, cuda.gemmKernelName(1024, 4096, 32, CudaKernels.SCALE_E8M0));
        assertEquals(tile, cuda.gemmKernelName(1024, 4096, 16, CudaKernels.SCALE_E4M3));
        assertEquals("tc-bf16-wmma", cuda.gemmKernelName(1024, 4096, 16, CudaKernels.SCALE_E8M0), "not a standard format");
        if (cuda.whyNoDevice() != null) {
            assertEquals("no CUDA device", cuda.fp4MmaStatus());
            assertEquals(0, cuda.deviceCount());
            CudaException e = assertThrows(CudaException.class, CudaKernels::require);
            assertTrue(e.getMessage().startsWith("no CUDA device"), e.getMessage());
            assertThrows(CudaException.class, () -> DeviceBuffer.allocate(16));
        }
    }

    static final List<QuantFormat> FORMATS = List.of(Mxfp4.DEFAULT, new Mxfp4(Mxfp4.Rule.OCP), Nvfp4.FIXED, Nvfp4.perTensor(37.5f));

    static float[] gaussian(int n, long seed, double outlierScale) {
        Random random = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (random.nextGaussian() * (i % 37 == 5 ? outlierScale : 1));
        }
        return x;
    }

    static QuantizedLayer layer(QuantFormat f, TransformKind t, int out, int in) {
        float[] w = gaussian(out * in, in + out, 1);
        float[] calib = gaussian(64 * in, 9, 20);
        double[] h = new double[in * in];
        for (int r = 0; r < 64; r++) {
            for (int i = 0; i < in; i++) {
                for (int j = 0; j < in; j++) {
                    h[i * in + j] += (double) calib[r * in + i] * calib[r * in + j] / 64;
                }
            }
        }
        return Rtn.quantize(new LayerInput("gpu.layer", w, out, in, h), f, t, 0);
    }

    static Stream<Arguments> layers() {
        List<Arguments> cases = new ArrayList<>();
        for (QuantFormat f : FORMATS) {
            for (TransformKind t : TransformKind.values()) {
                for (int in : new int[] {64, 172, 256}) {
                    cases.add(Arguments.of(f, t, in));
                }
            }
        }
        return cases.stream();
    }

    /** The device layer against the CPU packed layer: W4A4 and W4A16, decode and prefill row counts. */
    @ParameterizedTest(name = "{0} {1} in={2}")
    @MethodSource("layers")
    void deviceLayerMatchesTheCpuLayer(QuantFormat f, TransformKind t, int in) {
        assumeDevice();
        int out = 200;
        QuantizedLayer q = layer(f, t, out, in);
        for (boolean w4a4 : new boolean[] {true, false}) {
            PackedLayer cpu = PackedLayer.of(q, w4a4);
            for (boolean exact : new boolean[] {true, false}) {
                try (CudaPackedLayer gpu = new CudaPackedLayer(cpu)) {
                    gpu.setExact(exact);
                    for (int rows : new int[] {1, 3, 17, 300}) {
                        float[] x = gaussian(rows * in, rows, 20);
                        float[] expected = cpu.forward(x, rows);
                        float[] y;
                        try (DeviceBuffer dx = DeviceBuffer.of(x); DeviceBuffer dy = DeviceBuffer.allocate(4L * rows * out)) {
                            gpu.forward(dx.address(), rows, dy.address(), 0);
                            CudaKernels.require().synchronize(0);
                            y = dy.downloadFloats(rows * out);
                        }
                        String what = f.name() + " " + t + " in=" + in + " rows=" + rows + (w4a4 ? " W4A4" : " W4A16")
                                + (exact ? " exact" : " tensor cores");
                        // exact codes: only the products' summation order differs; tensor-core transforms may move
                        // an element at a rounding boundary to the neighbouring code
                        assertRelative(expected, y, exact || t == TransformKind.IDENTITY || !w4a4 ? 1e-3 : 2e-2, what);
                    }
                }
            }
        }
    }

    /** Exact device quantization gives the CPU kernels' codes and scales bit for bit. */
    @ParameterizedTest(name = "{0} {1} in={2}")
    @MethodSource("layers")
    void exactQuantizationIsBitIdenticalToTheCpuKernels(QuantFormat f, TransformKind t, int in) {
        assumeDevice();
        CudaKernels cuda = CudaKernels.require();
        PackedLayer packed = PackedLayer.of(layer(f, t, 8, in), true);
        PackedLayer.KernelArrays k = packed.kernelArrays();
        int p = k.kernelIn();
        int d = packed.blockSize();
        int rows = 70;
        float[] x = gaussian(rows * p, 5, 30);
        x[3] = Float.NaN;
        Fp4Scales s = k.scales();
        byte[] codes = new byte[rows * p / 2];
        byte[] scales = new byte[rows * (p / d)];
        Fp4Kernels.get().quantizeRows(MemorySegment.ofArray(x), 0, rows, p, d, k.transformsT(), k.transformStride(), s,
                MemorySegment.ofArray(codes), MemorySegment.ofArray(scales));
        boolean identity = k.transformsT().equals(MemorySegment.NULL);
        try (DeviceBuffer dx = DeviceBuffer.of(x);
                DeviceBuffer dt = identity ? null : DeviceBuffer.of(k.transformsT());
                DeviceBuffer lut = DeviceBuffer.of(s.values());
                DeviceBuffer dc = DeviceBuffer.allocate(codes.length);
                DeviceBuffer ds = DeviceBuffer.allocate(scales.length)) {
            cuda.quantizeRows(0, dx.address(), rows, p, d, identity ? 0 : dt.address(), k.transformStride(), s.rule(),
                    s.globalScale(), lut.address(), dc.address(), ds.address(), true);
            cuda.synchronize(0);
            assertArrayEquals(codes, dc.downloadBytes(codes.length), "codes");
            assertArrayEquals(scales, ds.downloadBytes(scales.length), "scale codes");
        }
    }

    @Test
    void fp4TensorCoresRunWhereTheDeviceHasThem() {
        assumeDevice();
        CudaKernels cuda = CudaKernels.require();
        String device = cuda.describe(0);
        String status = cuda.fp4MmaStatus();
        if (device.endsWith("(sm_120)") || device.endsWith("(sm_121)")) {
            assertTrue(status.startsWith("active"), device + ": " + status); // a failed self-check fails here
        } else {
            assertTrue(status.startsWith("not on sm_"), device + ": " + status);
        }
    }

    @Test
    void badArgumentsAreClearErrors() {
        assumeDevice();
        CudaKernels cuda = CudaKernels.require();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> cuda.gemmW4A4(0, 0, 0, 1, 0, 0, 8, 48, 32, CudaKernels.SCALE_E8M0, 1, 0, 8));
        assertTrue(e.getMessage().contains("wush_cuda_gemm_w4a4"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> cuda.gemmW4A4(0, 0, 0, 1, 0, 0, 8, 64, 32, 7, 1, 0, 8));
        assertThrows(UnsupportedOperationException.class, () -> new CudaPackedLayer(PackedLayer.of(layer(Int4.ABSMAX,
                TransformKind.IDENTITY, 8, 64), true)));
        try (DeviceBuffer b = DeviceBuffer.allocate(8)) {
            assertThrows(IllegalArgumentException.class, () -> b.upload(MemorySegment.ofArray(new byte[9])));
        }
    }

    static void assertRelative(float[] expected, float[] actual, double tolerance, String what) {
        assertEquals(expected.length, actual.length, what);
        double num = 0, den = 0;
        for (int i = 0; i < expected.length; i++) {
            double e = (double) actual[i] - expected[i];
            num += e * e;
            den += (double) expected[i] * expected[i];
        }
        double rel = Math.sqrt(num / Math.max(den, 1e-30));
        assertTrue(rel <= tolerance, what + ": relative error " + rel + " > " + tolerance);
    }
}
