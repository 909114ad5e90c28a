package dev.wush.translators;

import java.util.Arrays;
import java.util.SplittableRandom;

/** Picks a token from next-token logits: argmax, or temperature + top-p sampling with a seed. */
public final class TokenSampler {

    private final GenerationConfig config;
    private final SplittableRandom random;

    public TokenSampler(GenerationConfig config) {
        this.config = config;
        this.random = new SplittableRandom(config.seed());
    }

    /** The next token id given logits over the vocabulary. */
    public int next(float[] logits) {
        return config.isGreedy() ? argmax(logits) : sample(logits);
    }

    /** Index of the largest logit; the first one on ties, like {@code torch.argmax}. */
    public static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        return best;
    }

    private int sample(float[] logits) {
        int n = logits.length;
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double[] p = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            p[i] = Math.exp((logits[i] - max) / config.temperature());
            sum += p[i];
        }
        // tokens by descending probability; keep the smallest prefix whose mass reaches top-p
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Double.compare(p[b], p[a]));
        double kept = 0;
        int keep = 0;
        while (keep < n && (keep == 0 || kept < config.topP() * sum)) {
            kept += p[order[keep]];
            keep++;
        }
        double u = random.nextDouble() * kept;
        double acc = 0;
        for (int k = 0; k < keep; k++) {
            acc += p[order[k]];
            if (u < acc) {
                return order[k];
            }
        }
        return order[keep - 1];
    }
}
