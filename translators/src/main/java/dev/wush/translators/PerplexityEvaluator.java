package dev.wush.translators;

import ai.djl.inference.Predictor;
import ai.djl.translate.TranslateException;
import java.util.Arrays;
import java.util.function.IntConsumer;

/**
 * The evaluation protocol of METHOD.md: encode the whole text once (BOS at the very start only), cut
 * it into consecutive non-overlapping windows of L tokens (the tail is dropped), and report
 * {@code exp(mean cross-entropy)} over positions 1..L−1 of every window. Windows are scored in
 * batches.
 */
public final class PerplexityEvaluator {

    private final int window;
    private final int batch;

    /**
     * @param window window length L (256 in the project's figures)
     * @param batch windows per forward pass
     */
    public PerplexityEvaluator(int window, int batch) {
        if (window < 2) {
            throw new IllegalArgumentException("window must be at least 2, got " + window);
        }
        if (batch < 1) {
            throw new IllegalArgumentException("batch must be at least 1, got " + batch);
        }
        this.window = window;
        this.batch = batch;
    }

    /** Encodes {@code text} with BOS first and evaluates it. */
    public Perplexity evaluate(Predictor<TokenWindows, WindowLosses> predictor, TextTokenizer tokenizer, String text)
            throws TranslateException {
        return evaluate(predictor, tokenizer.encodeWithBos(text), done -> {});
    }

    /**
     * Evaluates an already encoded text.
     *
     * @param progress told the number of windows done after each batch
     */
    public Perplexity evaluate(
            Predictor<TokenWindows, WindowLosses> predictor, long[] tokens, IntConsumer progress)
            throws TranslateException {
        windowCount(tokens);
        long[][] windows = TokenWindows.cut(tokens, window);
        long start = System.nanoTime();
        double nll = 0;
        long predicted = 0;
        for (int from = 0; from < windows.length; from += batch) {
            long[][] chunk = Arrays.copyOfRange(windows, from, Math.min(windows.length, from + batch));
            WindowLosses losses = predictor.predict(new TokenWindows(chunk));
            for (int w = 0; w < losses.nll().length; w++) {
                double v = losses.nll()[w];
                if (!Double.isFinite(v)) {
                    throw new NonFiniteLossException(from + w, (long) (from + w) * window, v);
                }
                nll += v;
            }
            predicted += (long) chunk.length * losses.predictedPerWindow();
            progress.accept(from + chunk.length);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        return new Perplexity(Math.exp(nll / predicted), predicted, windows.length, seconds);
    }

    /** Number of windows {@code tokens} make; an error when not even one fits. */
    public int windowCount(long[] tokens) {
        int count = tokens.length / window;
        if (count == 0) {
            throw new IllegalArgumentException(
                    "the text has " + tokens.length + " tokens, fewer than one window of " + window);
        }
        return count;
    }

    /** Window length L. */
    public int window() {
        return window;
    }

    /** Windows per forward pass. */
    public int batch() {
        return batch;
    }
}
