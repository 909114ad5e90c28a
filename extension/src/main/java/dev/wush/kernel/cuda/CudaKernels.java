package dev.wush.kernel.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.wush.kernel.NativeLibraries;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

/**
 * The CUDA kernels of {@code src/main/cuda/wush_cuda.cu} ({@code libwushcuda.so}, built by the Maven profile
 * {@code cuda} with nvcc and shipped in the jar next to the CPU kernels), called through FFM on device
 * pointers. Pointers are plain {@code long} addresses: device memory is not host memory and is never
 * wrapped in a {@link MemorySegment}. Every call checks its CUDA status and throws a {@link CudaException}
 * naming the call and the CUDA error.
 *
 * <p>Stream arguments are {@code cudaStream_t} values (0: the legacy default stream), typically the current
 * stream of PyTorch ({@link TorchCuda#currentStream}). The kernels are asynchronous on their stream.
 */
public final class CudaKernels {

    /** Must match WUSH_CUDA_ABI in wush_cuda.h. */
    static final int ABI = 2;
    static final String RESOURCE = "/dev/wush/kernel/linux-x86_64/libwushcuda.so";
    static final int E_ARGUMENT = -1;
    /** Scale codes read as powers of two (MXFP4), WUSH_CUDA_SCALE_E8M0. */
    public static final int SCALE_E8M0 = 0;
    /** Scale codes read as E4M3 values (NVFP4), WUSH_CUDA_SCALE_E4M3. */
    public static final int SCALE_E4M3 = 1;

    private static final NativeLibraries.Loaded<CudaKernels> LOADED = NativeLibraries.Loaded.attempt(CudaKernels::load);

    private final MethodHandle errorString;
    private final MethodHandle deviceCount;
    private final MethodHandle deviceInfo;
    private final MethodHandle setDevice;
    private final MethodHandle compiledArchs;
    private final MethodHandle malloc;
    private final MethodHandle free;
    private final MethodHandle mallocAsync;
    private final MethodHandle freeAsync;
    private final MethodHandle copy;
    private final MethodHandle copyRows;
    private final MethodHandle memset;
    private final MethodHandle synchronize;
    private final MethodHandle transformRows;
    private final MethodHandle quantizeRows;
    private final MethodHandle gemmW4A4;
    private final MethodHandle gemvW4A16;
    private final MethodHandle gemmKernelName;
    private final MethodHandle fp4MmaStatus;

    /** The library, or null when it did not load ({@link #loadError()} says why). */
    public static CudaKernels instance() {
        return LOADED.instance();
    }

    /** Why the library did not load, or null. */
    public static String loadError() {
        return LOADED.error();
    }

    /**
     * The library with at least one CUDA device, or an exception saying what is missing (no library in the
     * jar, no driver, no device).
     */
    public static CudaKernels require() {
        CudaKernels kernels = LOADED.instance();
        if (kernels == null) {
            throw new CudaException("the wush CUDA kernels did not load: " + LOADED.error());
        }
        String why = kernels.whyNoDevice();
        if (why != null) {
            throw new CudaException("no CUDA device for the wush kernels: " + why);
        }
        return kernels;
    }

    /** True when the library loaded and sees a CUDA device. */
    public static boolean available() {
        CudaKernels kernels = LOADED.instance();
        return kernels != null && kernels.whyNoDevice() == null;
    }

    private CudaKernels(SymbolLookup lib) throws Throwable {
        int abi = (int) NativeLibraries.downcall(lib, "wush_cuda_abi_version", FunctionDescriptor.of(JAVA_INT)).invokeExact();
        if (abi != ABI) {
            throw new UnsatisfiedLinkError("CUDA kernels have ABI " + abi + ", this jar expects " + ABI);
        }
        this.errorString = NativeLibraries.downcall(lib, "wush_cuda_error_string", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        this.deviceCount = NativeLibraries.downcall(lib, "wush_cuda_device_count", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        this.deviceInfo = NativeLibraries.downcall(lib, "wush_cuda_device_info",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT));
        this.setDevice = NativeLibraries.downcall(lib, "wush_cuda_set_device", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        this.compiledArchs = NativeLibraries.downcall(lib, "wush_cuda_compiled_archs", FunctionDescriptor.of(ADDRESS));
        this.malloc = NativeLibraries.downcall(lib, "wush_cuda_malloc", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
        this.free = NativeLibraries.downcall(lib, "wush_cuda_free", FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
        this.mallocAsync = NativeLibraries.downcall(lib, "wush_cuda_malloc_async", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
        this.freeAsync = NativeLibraries.downcall(lib, "wush_cuda_free_async", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG));
        this.copy = NativeLibraries.downcall(lib, "wush_cuda_copy", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_LONG));
        this.copyRows = NativeLibraries.downcall(lib, "wush_cuda_copy_rows",
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG));
        this.memset = NativeLibraries.downcall(lib, "wush_cuda_memset", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG));
        this.synchronize = NativeLibraries.downcall(lib, "wush_cuda_stream_synchronize", FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
        this.transformRows = NativeLibraries.downcall(lib, "wush_cuda_transform_rows", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG,
                JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG));
        this.quantizeRows = NativeLibraries.downcall(lib, "wush_cuda_quantize_rows", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG,
                JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_FLOAT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT));
        this.gemmW4A4 = NativeLibraries.downcall(lib, "wush_cuda_gemm_w4a4", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT, JAVA_LONG, JAVA_LONG));
        this.gemvW4A16 = NativeLibraries.downcall(lib, "wush_cuda_gemv_w4a16", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT,
                JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT, JAVA_LONG, JAVA_LONG));
        this.gemmKernelName = NativeLibraries.downcall(lib, "wush_cuda_gemm_kernel_name",
                FunctionDescriptor.of(ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
        this.fp4MmaStatus = NativeLibraries.downcall(lib, "wush_cuda_fp4_mma_status", FunctionDescriptor.of(ADDRESS));
    }

    private static CudaKernels load() throws Throwable {
        return new CudaKernels(NativeLibraries.load(CudaKernels.class, RESOURCE, "it was built without nvcc; build with the "
                + "Maven profile cuda: -Pcuda -Dwush.nvcc=/path/to/nvcc"));
    }

    // ---------- devices ----------

    /** Null when a device is there, else why not (no driver, no device). */
    public String whyNoDevice() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment n = arena.allocate(JAVA_INT);
            int status = (int) deviceCount.invokeExact(n);
            if (status != 0) {
                return "cudaGetDeviceCount: " + errorString(status);
            }
            return n.get(JAVA_INT, 0) > 0 ? null : "cudaGetDeviceCount found 0 devices";
        } catch (Throwable e) {
            throw NativeLibraries.rethrow(e);
        }
    }

    /** Number of CUDA devices (0 without a driver). */
    public int deviceCount() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment n = arena.allocate(JAVA_INT);
            int status = (int) deviceCount.invokeExact(n);
            return status == 0 ? n.get(JAVA_INT, 0) : 0;
        } catch (Throwable e) {
            throw NativeLibraries.rethrow(e);
        }
    }

    /** Name and compute capability of a device, e.g. "NVIDIA H100 80GB HBM3 (sm_90)". */
    public String describe(int device) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment major = arena.allocate(JAVA_INT);
            MemorySegment minor = arena.allocate(JAVA_INT);
            MemorySegment name = arena.allocate(256);
            check((int) deviceInfo.invokeExact(device, major, minor, name, 256), "cudaGetDeviceProperties(" + device + ")");
            return name.getString(0) + " (sm_" + major.get(JAVA_INT, 0) + minor.get(JAVA_INT, 0) + ")";
        } catch (Throwable e) {
            throw NativeLibraries.rethrow(e);
        }
    }

    /** Makes {@code device} current for this thread's CUDA calls. */
    public void setDevice(int device) {
        try {
            check((int) setDevice.invokeExact(device), "cudaSetDevice(" + device + ")");
        } catch (Throwable e) {
            throw NativeLibraries.rethrow(e);
        }
    }

    /** The architectures the library has code for, e.g. "sm_80 sm_90 compute_90". */
    public String compiledArchs() {
        try {
            return NativeLibraries.string((MemorySegment) compiledArchs.invokeExact());
        } catch (Throwable e) {
            throw NativeLibraries.rethrow(e);
        }
    }

    /**
     * The kernel {@link #gemmW4A4} runs for these sizes and format on the current device: "gemv-dp4a" (≤ 4 rows),
     * "tc-fp4-mma" (block-scaled FP4 tensor cores, sm_120a/sm_121a) or "tc-bf16-wmma".
     */
    public String gemmKernelName(int rows, int p, int d, int scaleType) {
        try {
            return NativeLibraries.string((MemorySegment) gemmKernelName.invokeExact(rows, p, d, scaleType));
        } catch (Throwable e) {
            throw NativeLibraries.rethrow(e);
        }
    }

    /**
     * Whether the block-scaled FP4 tensor-core GEMM runs on the current device and, if not, why (another
     * architecture, no code for it in the library, WUSH_CUDA_FP4_MMA=0, or a failed self-check on first use).
     */
    public String fp4MmaStatus() {
        try {
            return NativeLibraries.string((MemorySegment) fp4MmaStatus.invokeExact());
        } catch (Throwable e) {
            throw NativeLibraries.rethrow(e);
        }
    }

    // ---------- memory ----------

    long malloc(long bytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ptr = arena.allocate(ADDRESS);
            int status = (int) malloc.invokeExact(ptr, bytes);
            if (status != 0) {
                throw new CudaException("cudaMalloc(" + bytes + " bytes) failed: " + errorString(status), status);
            }
            return ptr.get(ADDRESS, 0).address();
        } catch (Throwable e) {
            throw NativeLibraries.rethrow(e);
        }
    }

    void free(long ptr) {
        try {
            check((int) free.invokeExact(ptr), "cudaFree");
        } catch (Throwable e) {
            throw NativeLibraries.rethrow(e);
        }
    }

    /** Stream-ordered allocation from the device's memory pool, usable by work queued after it on {@code stream}. */
    public long mallocAsync(long bytes, long stream) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ptr = arena.allocate(ADDRESS);
            int status = (int) mallocAsync.invokeExact(ptr, bytes, stream);
            if (status != 0) {
                throw new CudaException("cudaMallocAsync(" + bytes + " bytes) failed: " + errorString(status), status);
            }
            return ptr.get(ADDRESS, 0).address();
        } catch (Throwable e) {
            throw NativeLibraries.rethrow(e);
        }
    }

    public void freeAsync(long ptr, long stream) {
        try {
            check((int) freeAsync.invokeExact(ptr, stream), "cudaFreeAsync");
        } catch (Throwable e) {
            throw NativeLibraries.rethrow(e);
        }
    }

    /** Host (native segment) to device; returns when done. */
    public void copyToDevice(MemorySegment host, long device, long bytes) {
        requireNative(host, bytes);
        try {
            check((int) copy.invokeExact(device, host.address(), bytes, 1, 0L), "cudaMemcpy host to device");
        } catch (Throwable e) {
            throw NativeLibraries.rethrow(e);
        }
    }

    /** Device to host (native segment); returns when done. */
    public void copyToHost(long device, MemorySegment host, long bytes) {
        requireNative(host, bytes);
        try {
            check((int) copy.invokeExact(host.address(), device, bytes, 2, 0L), "cudaMemcpy device to host");
        } catch (Throwable e) {
            throw NativeLibraries.rethrow(e);
        }
    }

    /** {@code rows} rows of {@code width} bytes, device to device, queued on {@code stream}. */
    public void copyRows(long dst, long dpitch, long src, long spitch, long width, long rows, long stream) {
        try {
            check((int) copyRows.invokeExact(dst, dpitch, src, spitch, width, rows, stream), "cudaMemcpy2DAsync");
        } catch (Throwable e) {
            throw NativeLibraries.rethrow(e);
        }
    }

    public void memset(long ptr, int value, long bytes, long stream) {
        try {
            check((int) memset.invokeExact(ptr, value, bytes, stream), "cudaMemsetAsync");
        } catch (Throwable e) {
            throw NativeLibraries.rethrow(e);
        }
    }

    /** Waits for the stream's work; a kernel's execution error surfaces here. */
    public void synchronize(long stream) {
        try {
            check((int) synchronize.invokeExact(stream), "cudaStreamSynchronize");
        } catch (Throwable e) {
            throw NativeLibraries.rethrow(e);
        }
    }

    // ---------- kernels (see wush_cuda.h for the layouts) ----------

    public void transformRows(long stream, long x, long rows, int p, int d, long tt, long tstride, long y) {
        try {
            check((int) transformRows.invokeExact(stream, x, rows, p, d, tt, tstride, y), "wush_cuda_transform_rows");
        } catch (Throwable e) {
            throw NativeLibraries.rethrow(e);
        }
    }

    /** Fused transform + quantization; {@code lut}: the 256 scale values on the device; exact: bit-identical to the CPU. */
    public void quantizeRows(long stream, long x, long rows, int p, int d, long tt, long tstride, int rule, float globalScale,
            long lut, long codes, long scales, boolean exact) {
        try {
            check((int) quantizeRows.invokeExact(stream, x, rows, p, d, tt, tstride, rule, globalScale, lut, codes, scales,
                    exact ? 1 : 0), "wush_cuda_quantize_rows");
        } catch (Throwable e) {
            throw NativeLibraries.rethrow(e);
        }
    }

    /**
     * W4A4 {@code y (rows, out) = alpha · A · Wᵀ}: codes and scale codes of one format ({@code scaleType}
     * {@link #SCALE_E8M0} or {@link #SCALE_E4M3}, blocks of d), alpha the scales' constant factors.
     */
    public void gemmW4A4(long stream, long aCodes, long aScales, int rows, long wCodes, long wScales, long out, int p, int d,
            int scaleType, float alpha, long y, long ldy) {
        try {
            check((int) gemmW4A4.invokeExact(stream, aCodes, aScales, rows, wCodes, wScales, out, p, d, scaleType, alpha, y, ldy),
                    "wush_cuda_gemm_w4a4");
        } catch (Throwable e) {
            throw NativeLibraries.rethrow(e);
        }
    }

    /** W4A16 {@code y (rows, out) = alpha · x · Wᵀ}, x float32 (rows, p), already transformed. */
    public void gemvW4A16(long stream, long x, int rows, long wCodes, long wScales, long out, int p, int d, int scaleType,
            float alpha, long y, long ldy) {
        try {
            check((int) gemvW4A16.invokeExact(stream, x, rows, wCodes, wScales, out, p, d, scaleType, alpha, y, ldy),
                    "wush_cuda_gemv_w4a16");
        } catch (Throwable e) {
            throw NativeLibraries.rethrow(e);
        }
    }

    // ---------- errors ----------

    String errorString(int status) {
        try {
            return NativeLibraries.string((MemorySegment) errorString.invokeExact(status)) + " (" + status + ")";
        } catch (Throwable e) {
            throw NativeLibraries.rethrow(e);
        }
    }

    private void check(int status, String call) {
        if (status == E_ARGUMENT) {
            throw new IllegalArgumentException(call + ": " + errorString(status));
        }
        if (status != 0) {
            throw new CudaException(call + " failed: " + errorString(status), status);
        }
    }

    private static void requireNative(MemorySegment host, long bytes) {
        if (!host.isNative()) {
            throw new IllegalArgumentException("host buffer for a CUDA copy must be native memory");
        }
        if (host.byteSize() < bytes) {
            throw new IllegalArgumentException("host buffer of " + host.byteSize() + " bytes, copy of " + bytes);
        }
    }
}
