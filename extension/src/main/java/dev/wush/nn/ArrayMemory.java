package dev.wush.nn;

import ai.djl.ndarray.NDArray;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/**
 * The memory of an engine array, for native kernels that read and write it in place. Only PyTorch CPU
 * arrays expose it: {@code NDArray.toByteBuffer(true)} is then a direct view of a contiguous tensor (or of a
 * contiguous copy that the array's manager owns).
 */
public final class ArrayMemory {

    /** The engine whose CPU arrays expose their memory. */
    public static final String ENGINE = "PyTorch";

    private ArrayMemory() {}

    /** Whether the array's memory can be reached: a PyTorch array on the CPU. */
    public static boolean reachable(NDArray array) {
        return !array.getDevice().isGpu() && ENGINE.equals(array.getManager().getEngine().getEngineName());
    }

    /** A view of the array's memory, or null when the engine gives none. */
    public static MemorySegment of(NDArray array) {
        if (!reachable(array)) {
            return null;
        }
        ByteBuffer buffer = array.toByteBuffer(true);
        return buffer.isDirect() ? MemorySegment.ofBuffer(buffer) : null;
    }
}
