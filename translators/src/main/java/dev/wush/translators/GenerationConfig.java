package dev.wush.translators;

/**
 * How to pick each next token.
 *
 * @param maxNewTokens upper bound on generated tokens (the model's context also bounds it)
 * @param temperature 0 for greedy decoding; otherwise logits are divided by it before sampling
 * @param topP nucleus sampling: sample among the most likely tokens whose probabilities add up to
 *     at least {@code topP} (1 keeps all)
 * @param seed seed of the sampler's random generator, for repeatable samples
 */
public record GenerationConfig(int maxNewTokens, double temperature, double topP, long seed) {

    public GenerationConfig {
        if (maxNewTokens < 1) {
            throw new IllegalArgumentException("maxNewTokens must be at least 1, got " + maxNewTokens);
        }
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number ≥ 0, got " + temperature);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("topP must be in (0, 1], got " + topP);
        }
    }

    /** Greedy decoding of at most {@code maxNewTokens}. */
    public static GenerationConfig greedy(int maxNewTokens) {
        return new GenerationConfig(maxNewTokens, 0, 1, 0);
    }

    /** True when the argmax is taken at every step. */
    public boolean isGreedy() {
        return temperature == 0;
    }
}
