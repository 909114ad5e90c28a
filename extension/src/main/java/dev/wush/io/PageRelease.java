package dev.wush.io;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * {@code madvise(MADV_DONTNEED)} on pages of a read-only file mapping: they leave this process's
 * resident set (the kernel keeps them in its page cache and faults them in again if touched), so a
 * model read block by block from a memory-mapped checkpoint does not accumulate the whole file in RSS.
 * A no-op where the call is unavailable.
 */
final class PageRelease {

    private static final int MADV_DONTNEED = 4; // Linux
    private static final long PAGE = 4096;
    private static final MethodHandle MADVISE = lookup();

    private PageRelease() {}

    private static MethodHandle lookup() {
        if (!System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux")) {
            return null;
        }
        Linker linker = Linker.nativeLinker();
        return linker.defaultLookup().find("madvise").map(address -> linker.downcallHandle(address,
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT)))
                .orElse(null);
    }

    /**
     * Drops the whole pages that {@code range} (a slice of a read-only mapping) touches; true when the
     * kernel accepted the advice.
     */
    static boolean dontNeed(MemorySegment range) {
        if (MADVISE == null || range.byteSize() == 0 || !range.isMapped()) {
            return false;
        }
        long start = range.address() / PAGE * PAGE;
        long end = (range.address() + range.byteSize() + PAGE - 1) / PAGE * PAGE;
        try {
            // neighbouring tensors sharing an edge page lose nothing: a read-only mapping refaults from the file
            return (int) MADVISE.invokeExact(MemorySegment.ofAddress(start), end - start, MADV_DONTNEED) == 0;
        } catch (Throwable e) {
            return false; // advisory only: memory stays resident, nothing is wrong
        }
    }
}
