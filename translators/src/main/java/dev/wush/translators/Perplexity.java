package dev.wush.translators;

/**
 * Result of a perplexity evaluation.
 *
 * @param ppl {@code exp(mean next-token cross-entropy)}
 * @param tokens predicted tokens: windows × (L − 1)
 * @param windows number of windows scored
 * @param seconds wall time of the scoring (tokenization excluded)
 */
public record Perplexity(double ppl, long tokens, int windows, double seconds) {

    /** Scored tokens per second (each window's L tokens all go through the model). */
    public double tokensPerSecond(int windowLength) {
        return windows * (double) windowLength / seconds;
    }
}
