package dev.wush.translators.tasks;

/**
 * One context and the continuations scored after it, as token ids: the context is run once, the continuations
 * together against its key/value cache.
 *
 * @param context at least one token (the harness puts BOS there when the context is empty)
 * @param continuations each at least one token
 */
public record ContextChoices(long[] context, long[][] continuations) {

    public ContextChoices {
        if (context.length == 0) {
            throw new IllegalArgumentException("the context has no tokens");
        }
        if (continuations.length == 0) {
            throw new IllegalArgumentException("no continuations to score");
        }
        for (long[] c : continuations) {
            if (c.length == 0) {
                throw new IllegalArgumentException("a continuation has no tokens");
            }
        }
    }
}
