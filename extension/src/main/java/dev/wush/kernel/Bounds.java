package dev.wush.kernel;

import java.lang.foreign.MemorySegment;

/** Argument checks before a native call: a wrong size must be an exception here, not a crash there. */
final class Bounds {

    private Bounds() {}

    static void check(String what, MemorySegment segment, long bytes) {
        if (segment.equals(MemorySegment.NULL) || segment.byteSize() < bytes) {
            throw new IndexOutOfBoundsException(what + ": needs " + bytes + " bytes, got "
                    + (segment.equals(MemorySegment.NULL) ? "NULL" : segment.byteSize()));
        }
    }

    static void rows(MemorySegment x, MemorySegment y, long r1, int p, int d, MemorySegment tt, long tstride) {
        if (d != 16 && d != 32 || p % d != 0) {
            throw new IllegalArgumentException("block size " + d + " (16 or 32) must divide p = " + p);
        }
        check("x", x, r1 * p * 4);
        if (!y.equals(MemorySegment.NULL)) {
            check("y", y, r1 * p * 4);
        }
        if (!tt.equals(MemorySegment.NULL)) {
            check("transforms", tt, ((p / d - 1) * tstride + (long) d * d) * 4);
        }
    }

    static void packed(int p, int d, long o1, MemorySegment wCodes, MemorySegment wScales, MemorySegment wScaleValues,
            MemorySegment y, int rows, long ldy) {
        if (p % 32 != 0 || (d != 16 && d != 32)) {
            throw new IllegalArgumentException("packed products need p a multiple of 32 and d 16 or 32, got p = " + p + ", d = " + d);
        }
        check("weight codes", wCodes, o1 * p / 2);
        check("weight scales", wScales, o1 * (p / d));
        check("weight scale values", wScaleValues, 256 * 4);
        check("y", y, ((rows - 1) * ldy + o1) * 4);
    }
}
