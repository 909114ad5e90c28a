package dev.wush.kernel.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The engine-side plumbing of the GPU path, on the CPU engine: the pointer an array hands to the kernels is
 * its data (the same JNI call serves device tensors, whose memory is then not read by the JVM), strided
 * views are made contiguous first, and asking for a CUDA stream without PyTorch's CUDA library is a clear error.
 */
class TorchCudaTest {

    @BeforeAll
    static void offline() {
        System.setProperty("ai.djl.offline", "true");
    }

    @Test
    void pointerIsTheArraysData() {
        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            float[] data = {1, 2, 3, 4, 5, 6};
            NDArray a = manager.create(data, new Shape(2, 3));
            TorchCuda.Pointer p = TorchCuda.pointer(a);
            assertSame(a, p.array());
            float[] seen = MemorySegment.ofAddress(p.address()).reinterpret(4L * data.length).toArray(ValueLayout.JAVA_FLOAT);
            assertArrayEquals(data, seen);
        }
    }

    @Test
    void stridedViewsAreMadeContiguous() {
        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            NDArray a = manager.create(new float[] {1, 2, 3, 4, 5, 6}, new Shape(2, 3));
            NDArray t = a.transpose(); // (3, 2), a strided view of a's storage
            TorchCuda.Pointer p = TorchCuda.pointer(t);
            assertNotSame(t, p.array());
            float[] seen = MemorySegment.ofAddress(p.address()).reinterpret(24).toArray(ValueLayout.JAVA_FLOAT);
            assertArrayEquals(new float[] {1, 4, 2, 5, 3, 6}, seen);
            assertEquals(new Shape(3, 2), p.array().getShape());
        }
    }

    @Test
    void streamsNeedACudaDeviceAndPyTorchsCudaLibrary() {
        assertThrows(IllegalArgumentException.class, () -> TorchCuda.currentStream(Device.cpu()));
        // this build runs the CPU engine: libc10_cuda.so is not loaded, and the error says what to use instead
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, () -> TorchCuda.currentStream(Device.gpu()));
        assertTrue(e.getMessage().contains("libc10_cuda.so") && e.getMessage().contains("CUDA build"), e.getMessage());
    }
}
