package dev.wush.quant.format;

/** Two 4-bit codes per byte: element 2k in the low nibble, element 2k+1 in the high nibble. */
public final class Fp4Packing {

    private Fp4Packing() {}

    /** Packs codes (each 0..15); an odd count leaves the last high nibble zero. */
    public static byte[] pack(byte[] codes) {
        byte[] packed = new byte[(codes.length + 1) / 2];
        for (int i = 0; i < codes.length; i++) {
            int c = codes[i] & 0xF;
            packed[i >> 1] |= (byte) ((i & 1) == 0 ? c : c << 4);
        }
        return packed;
    }

    /** The first {@code count} codes of packed bytes. */
    public static byte[] unpack(byte[] packed, int count) {
        if (count > packed.length * 2) {
            throw new IllegalArgumentException(count + " codes do not fit in " + packed.length + " bytes");
        }
        byte[] codes = new byte[count];
        for (int i = 0; i < count; i++) {
            int b = packed[i >> 1];
            codes[i] = (byte) ((i & 1) == 0 ? b & 0xF : (b >> 4) & 0xF);
        }
        return codes;
    }
}
