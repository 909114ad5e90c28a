package dev.wush.translators;

import ai.djl.ndarray.NDList;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.TranslatorContext;

/**
 * Prompt in, continuation out. The predictor's forward pass is the prefill of the prompt (with BOS);
 * decoding then continues on the same block with its key/value cache (see {@link TextGenerator}).
 */
public final class TextGenerationTranslator implements NoBatchifyTranslator<String, String> {

    private static final String PROMPT = "wush.prompt";

    private final TextTokenizer tokenizer;
    private final GenerationConfig config;
    private final int contextLength;

    public TextGenerationTranslator(TextTokenizer tokenizer, GenerationConfig config, int contextLength) {
        this.tokenizer = tokenizer;
        this.config = config;
        this.contextLength = contextLength;
    }

    @Override
    public NDList processInput(TranslatorContext ctx, String prompt) {
        long[] ids = tokenizer.encodeWithBos(prompt);
        generator(ctx).checkPrompt(ids);
        ctx.setAttachment(PROMPT, ids);
        return new NDList(ctx.getNDManager().create(new long[][] {ids}));
    }

    @Override
    public String processOutput(TranslatorContext ctx, NDList prefill) {
        long[] prompt = (long[]) ctx.getAttachment(PROMPT);
        long[] generated = generator(ctx).continueFrom(ctx.getNDManager(), prefill, prompt.length, id -> {});
        return tokenizer.decodeContinuation(prompt, generated);
    }

    private TextGenerator generator(TranslatorContext ctx) {
        return new TextGenerator(ctx.getBlock(), config, tokenizer.eosIds(), contextLength);
    }
}
