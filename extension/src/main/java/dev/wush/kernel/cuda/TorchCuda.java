package dev.wush.kernel.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;

/**
 * The PyTorch engine's side of the CUDA kernels: the data pointer of an {@link NDArray} (no copy, on
 * whatever device the array lives) and PyTorch's current CUDA stream, so the kernels run in order with the
 * engine's own work.
 *
 * <p>DJL 0.35.1 has no public API for either. The data pointer comes from the engine's JNI function that
 * wraps a tensor's {@code data_ptr()} in a direct buffer ({@code PyTorchLibrary.torchDirectByteBuffer},
 * package-private, called by reflection; it does not touch the memory, so it serves device tensors too:
 * only the buffer's address is used, never its contents). The stream comes from libtorch's
 * {@code c10::cuda::getCurrentCUDAStream(device)} and {@code CUDAStream::stream()} in
 * {@code libc10_cuda.so}, which the CUDA build of the engine has loaded, called through FFM.
 */
public final class TorchCuda {

    private TorchCuda() {}

    /** An array whose data is at {@code address}: {@code array} is the input or its contiguous copy. */
    public record Pointer(NDArray array, long address) {}

    private static final class Jni {
        static final Object LIB;
        static final Method IS_CONTIGUOUS;
        static final Method TO_CONTIGUOUS;
        static final Method DIRECT_BUFFER;
        static final String ERROR;

        static {
            Object lib = null;
            Method isContiguous = null, toContiguous = null, directBuffer = null;
            String error = null;
            try {
                Class<?> c = Class.forName("ai.djl.pytorch.jni.PyTorchLibrary");
                java.lang.reflect.Field field = c.getDeclaredField("LIB"); // the class and field are package-private
                field.setAccessible(true);
                lib = field.get(null);
                isContiguous = c.getDeclaredMethod("torchIsContiguous", long.class);
                toContiguous = c.getDeclaredMethod("torchToContiguous", long.class);
                directBuffer = c.getDeclaredMethod("torchDirectByteBuffer", long.class);
                isContiguous.setAccessible(true);
                toContiguous.setAccessible(true);
                directBuffer.setAccessible(true);
            } catch (ReflectiveOperationException | RuntimeException e) {
                error = "this DJL PyTorch engine does not expose tensor data pointers (" + e + ")";
            }
            LIB = lib;
            IS_CONTIGUOUS = isContiguous;
            TO_CONTIGUOUS = toContiguous;
            DIRECT_BUFFER = directBuffer;
            ERROR = error;
        }
    }

    /**
     * The address of {@code array}'s data (device memory for a GPU array), making a contiguous copy first when
     * the array is a strided view. The address is valid while the returned array is open.
     */
    public static Pointer pointer(NDArray array) {
        if (!(array instanceof PtNDArray pt)) {
            throw new IllegalArgumentException("CUDA kernels need PyTorch-engine arrays, got " + array.getClass().getName()
                    + " of engine " + array.getManager().getEngine().getEngineName());
        }
        if (Jni.ERROR != null) {
            throw new UnsupportedOperationException(Jni.ERROR);
        }
        try {
            long handle = pt.getHandle();
            PtNDArray used = pt;
            if (!(boolean) Jni.IS_CONTIGUOUS.invoke(Jni.LIB, handle)) {
                long copy = (long) Jni.TO_CONTIGUOUS.invoke(Jni.LIB, handle);
                used = new PtNDArray((PtNDManager) pt.getManager(), copy);
                handle = copy;
            }
            ByteBuffer view = (ByteBuffer) Jni.DIRECT_BUFFER.invoke(Jni.LIB, handle);
            return new Pointer(used, MemorySegment.ofBuffer(view).address());
        } catch (ReflectiveOperationException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new IllegalStateException("cannot get the data pointer of " + array.getShape() + " on " + array.getDevice()
                    + ": " + cause, cause);
        }
    }

    // c10::cuda::CUDAStream is returned by value: {int8 device type, int8 device index, int64 stream id}
    private static final StructLayout CUDA_STREAM = MemoryLayout.structLayout(JAVA_BYTE.withName("type"),
            JAVA_BYTE.withName("index"), MemoryLayout.paddingLayout(6), JAVA_LONG.withName("id"));

    private static final class Streams {
        static final MethodHandle CURRENT;
        static final MethodHandle HANDLE;
        static final String ERROR;

        static {
            MethodHandle current = null, handle = null;
            String error = null;
            try {
                // loaded by the CUDA build of the engine already; dlopen finds it by its soname
                SymbolLookup c10 = SymbolLookup.libraryLookup("libc10_cuda.so", Arena.global());
                Linker linker = Linker.nativeLinker();
                current = linker.downcallHandle(find(c10, "_ZN3c104cuda20getCurrentCUDAStreamEa"),
                        FunctionDescriptor.of(CUDA_STREAM, JAVA_BYTE));
                handle = linker.downcallHandle(find(c10, "_ZNK3c104cuda10CUDAStream6streamEv"), FunctionDescriptor.of(ADDRESS, ADDRESS));
            } catch (RuntimeException | UnsatisfiedLinkError e) {
                error = "PyTorch's CUDA library (libc10_cuda.so) is not loaded, so its current stream is unknown: "
                        + "use the CUDA build of DJL's PyTorch engine (" + e.getMessage() + ")";
            }
            CURRENT = current;
            HANDLE = handle;
            ERROR = error;
        }

        private static MemorySegment find(SymbolLookup lib, String symbol) {
            return lib.find(symbol).orElseThrow(() -> new UnsatisfiedLinkError("symbol " + symbol + " not in libc10_cuda.so"));
        }
    }

    /** PyTorch's current CUDA stream on {@code device} (a {@code cudaStream_t}; 0 is the legacy default stream). */
    public static long currentStream(Device device) {
        if (!device.isGpu()) {
            throw new IllegalArgumentException("no CUDA stream on " + device);
        }
        if (Streams.ERROR != null) {
            throw new UnsupportedOperationException(Streams.ERROR);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment stream = (MemorySegment) Streams.CURRENT.invokeExact((SegmentAllocator) arena, (byte) device.getDeviceId());
            return ((MemorySegment) Streams.HANDLE.invokeExact(stream)).address();
        } catch (Throwable e) {
            throw new IllegalStateException("c10::cuda::getCurrentCUDAStream(" + device.getDeviceId() + ") failed: " + e, e);
        }
    }
}
