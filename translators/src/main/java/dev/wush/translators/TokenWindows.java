package dev.wush.translators;

/**
 * A batch of equal-length token windows, (B, L), the input of a perplexity predictor.
 *
 * @param ids row-major token ids, {@code ids[b]} is one window
 */
public record TokenWindows(long[][] ids) {

    public TokenWindows {
        if (ids.length == 0) {
            throw new IllegalArgumentException("no windows");
        }
        for (long[] w : ids) {
            if (w.length != ids[0].length || w.length < 2) {
                throw new IllegalArgumentException("windows must all have the same length ≥ 2");
            }
        }
    }

    /** Window length L. */
    public int length() {
        return ids[0].length;
    }

    /** Cuts {@code tokens} into consecutive non-overlapping windows of {@code length}, dropping the tail. */
    public static long[][] cut(long[] tokens, int length) {
        if (length < 2) {
            throw new IllegalArgumentException("window length must be at least 2, got " + length);
        }
        int count = tokens.length / length;
        long[][] windows = new long[count][];
        for (int w = 0; w < count; w++) {
            windows[w] = java.util.Arrays.copyOfRange(tokens, w * length, (w + 1) * length);
        }
        return windows;
    }

    /**
     * The first {@code count} windows of {@code tokens} (all of them when there are fewer); an error
     * naming {@code source} when not even one window fits.
     */
    public static long[][] leading(long[] tokens, int length, int count, String source) {
        long[][] all = cut(tokens, length);
        if (all.length == 0) {
            throw new IllegalArgumentException(source + " has " + tokens.length + " tokens, fewer than one window of " + length);
        }
        return java.util.Arrays.copyOf(all, Math.min(count, all.length));
    }
}
