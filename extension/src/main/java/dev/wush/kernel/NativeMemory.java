package dev.wush.kernel;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Zeroed, aligned native memory from the C allocator, freed when {@code arena} closes (or, for an
 * automatic arena, when it becomes unreachable). Unlike {@code Arena.allocate}, it does not count
 * against the JVM's direct-memory limit ({@code -XX:MaxDirectMemorySize}, by default the heap size):
 * the packed weights of an 8B model (3.9 GB) live outside the Java heap and must not need a heap as
 * large as themselves.
 */
final class NativeMemory {

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle CALLOC = LINKER.downcallHandle(LINKER.defaultLookup().find("calloc").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
    private static final MethodHandle FREE = LINKER.downcallHandle(LINKER.defaultLookup().find("free").orElseThrow(),
            FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));
    private static final AtomicLong LIVE = new AtomicLong(); // bytes allocated here and not yet freed

    private NativeMemory() {}

    /** {@code bytes} zeroed bytes aligned to {@code alignment} (a power of two), owned by {@code arena}. */
    static MemorySegment allocate(long bytes, long alignment, Arena arena) {
        MemorySegment raw;
        try {
            raw = (MemorySegment) CALLOC.invokeExact(bytes + alignment, 1L);
        } catch (Throwable e) {
            throw new IllegalStateException("calloc failed", e);
        }
        if (raw.address() == 0) {
            throw new OutOfMemoryError("cannot allocate " + bytes + " bytes of native memory for packed weights");
        }
        long base = raw.address();
        long aligned = (base + alignment - 1) & -alignment;
        LIVE.addAndGet(bytes);
        return MemorySegment.ofAddress(aligned).reinterpret(bytes, arena, segment -> {
            free(base);
            LIVE.addAndGet(-bytes);
        });
    }

    /** Bytes allocated by {@link #allocate} whose arena has not been closed yet. */
    static long liveBytes() {
        return LIVE.get();
    }

    private static void free(long address) {
        try {
            FREE.invokeExact(MemorySegment.ofAddress(address));
        } catch (Throwable e) {
            throw new IllegalStateException("free failed", e);
        }
    }
}
