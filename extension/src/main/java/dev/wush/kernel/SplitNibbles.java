package dev.wush.kernel;

/**
 * The weight layout of the packed products: per chunk of 32 elements (16 bytes), byte i holds element i
 * in its low nibble and element 16 + i in its high nibble, so a vector unpack is one shift and one table
 * lookup. Checkpoints and activation codes use the standard layout (element 2k low, 2k + 1 high).
 */
public final class SplitNibbles {

    private SplitNibbles() {}

    /** Standard-packed codes of a row-major (rows, cols) matrix, cols a multiple of 32, to this layout. */
    public static byte[] fromStandard(byte[] standard, int rows, int cols) {
        check(standard, rows, cols);
        byte[] split = new byte[standard.length];
        for (int c = 0; c < split.length / 16; c++) {
            int base = c * 16;
            for (int i = 0; i < 16; i++) {
                split[base + i] = (byte) (code(standard, base, i) | code(standard, base, 16 + i) << 4);
            }
        }
        return split;
    }

    /** The inverse of {@link #fromStandard}. */
    public static byte[] toStandard(byte[] split, int rows, int cols) {
        check(split, rows, cols);
        byte[] standard = new byte[split.length];
        for (int c = 0; c < split.length / 16; c++) {
            int base = c * 16;
            for (int k = 0; k < 16; k++) { // standard byte k holds elements 2k, 2k+1
                standard[base + k] = (byte) (splitCode(split, base, 2 * k) | splitCode(split, base, 2 * k + 1) << 4);
            }
        }
        return standard;
    }

    /** Code of element e (0..31) of the standard-packed chunk at byte {@code base}. */
    private static int code(byte[] standard, int base, int e) {
        int b = standard[base + e / 2] & 0xFF;
        return (e & 1) == 0 ? b & 15 : b >>> 4;
    }

    /** Code of element e (0..31) of the split chunk at byte {@code base}. */
    static int splitCode(byte[] split, int base, int e) {
        int b = split[base + (e & 15)] & 0xFF;
        return e < 16 ? b & 15 : b >>> 4;
    }

    private static void check(byte[] codes, int rows, int cols) {
        if (cols % 32 != 0 || codes.length != (long) rows * cols / 2) {
            throw new IllegalArgumentException("expected (" + rows + ", " + cols + ") codes with cols a multiple of 32, got "
                    + codes.length + " bytes");
        }
    }
}
