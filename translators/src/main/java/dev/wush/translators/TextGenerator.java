package dev.wush.translators;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import java.util.Arrays;
import java.util.Collection;
import java.util.function.LongConsumer;

/**
 * Autoregressive decoding with a key/value cache over a causal language model block that follows
 * this protocol: input {@code [ids (1, T)]} followed by the cache of the previous call; output
 * {@code [logits (1, T, vocab), cache…]}. The prompt is run once (prefill); after that each step feeds
 * one token and the cache.
 */
public final class TextGenerator {

    private final Block block;
    private final GenerationConfig config;
    private final Collection<Long> eosIds;
    private final int contextLength;

    /**
     * @param eosIds generation stops (without emitting it) at any of these
     * @param contextLength the model's maximum sequence length; generation stops there
     */
    public TextGenerator(Block block, GenerationConfig config, Collection<Long> eosIds, int contextLength) {
        this.block = block;
        this.config = config;
        this.eosIds = eosIds;
        this.contextLength = contextLength;
    }

    /** Runs the prompt through the model, then decodes; returns the new token ids. */
    public long[] generate(NDManager manager, long[] prompt, LongConsumer onToken) {
        checkPrompt(prompt);
        try (NDManager prefill = manager.newSubManager()) {
            NDArray ids = prefill.create(new long[][] {prompt});
            NDList out = block.forward(new ParameterStore(prefill, false), new NDList(ids), false);
            return continueFrom(prefill, out, prompt.length, onToken);
        }
    }

    /** Throws a clear error for an empty prompt or one that fills the context. */
    public void checkPrompt(long[] prompt) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("the prompt encodes to no tokens");
        }
        if (prompt.length >= contextLength) {
            throw new IllegalArgumentException(
                    "the prompt has " + prompt.length + " tokens; the model's context is " + contextLength);
        }
    }

    /**
     * Decodes from the output of a prefill call.
     *
     * @param prefillOutput {@code [logits (1, T, V), cache…]} of the prompt
     * @param promptLength T
     */
    public long[] continueFrom(NDManager manager, NDList prefillOutput, int promptLength, LongConsumer onToken) {
        TokenSampler sampler = new TokenSampler(config);
        // never more than the context leaves, however large maxNewTokens is
        long[] generated = new long[Math.max(1, Math.min(config.maxNewTokens(), contextLength - promptLength))];
        int count = 0;
        NDList out = prefillOutput;
        NDManager previous = null;
        try {
            while (true) {
                NDArray logits = out.head();
                long t = logits.getShape().get(1);
                long next = sampler.next(logits.get("0, " + (t - 1) + ", :").toFloatArray());
                if (eosIds.contains(next)) {
                    break;
                }
                generated[count++] = next;
                onToken.accept(next);
                if (count == generated.length || promptLength + count >= contextLength) {
                    break;
                }
                // each step's arrays live in their own manager; the one before is freed once the
                // new cache (computed from it) exists
                NDManager step = manager.newSubManager();
                NDList in = new NDList(step.create(new long[][] {{next}}));
                in.addAll(out.subNDList(1));
                out = block.forward(new ParameterStore(step, false), in, false);
                out.attach(step);
                if (previous != null) {
                    previous.close();
                }
                previous = step;
            }
        } finally {
            if (previous != null) {
                previous.close();
            }
        }
        return Arrays.copyOf(generated, count);
    }
}
