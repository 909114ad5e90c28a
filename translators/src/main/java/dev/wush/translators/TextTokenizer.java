package dev.wush.translators;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.wush.io.CheckpointException;
import dev.wush.io.JsonFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Encodes and decodes text with a model's {@code tokenizer.json} through DJL's
 * {@link HuggingFaceTokenizer}. Special tokens are never added implicitly and nothing is truncated
 * (DJL's default would cut at {@code model_max_length}); callers put BOS where the protocol says.
 */
public final class TextTokenizer implements AutoCloseable {

    private final HuggingFaceTokenizer tokenizer;
    private final long bosId;
    private final List<Long> eosIds;

    private TextTokenizer(HuggingFaceTokenizer tokenizer, long bosId, List<Long> eosIds) {
        this.tokenizer = tokenizer;
        this.bosId = bosId;
        this.eosIds = List.copyOf(eosIds);
    }

    /** Loads {@code tokenizer.json} from a model directory. */
    public static TextTokenizer load(Path modelDir, long bosId, List<Long> eosIds) throws IOException {
        Path file = check(modelDir);
        HuggingFaceTokenizer tokenizer;
        try {
            // the directory, so DJL also applies tokenizer_config.json (decode clean-up, …)
            tokenizer = HuggingFaceTokenizer.newInstance(
                    modelDir, Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false"));
        } catch (RuntimeException e) {
            String reason = e.getMessage() == null ? "" : e.getMessage().lines().findFirst().orElse("");
            throw new CheckpointException(file + ": not a tokenizer the Hugging Face tokenizers library can load"
                    + (reason.isBlank() ? "" : " (" + reason.strip() + ")"), e);
        }
        return new TextTokenizer(tokenizer, bosId, eosIds);
    }

    /**
     * Checks, without loading it, that a model directory has a {@code tokenizer.json} that is JSON (and
     * that a {@code tokenizer_config.json}, if present, is too); returns the tokenizer file.
     */
    public static Path check(Path modelDir) throws IOException {
        Path file = modelDir.resolve("tokenizer.json");
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString(), null, "no such file (the model directory needs tokenizer.json)");
        }
        JsonFiles.readObject(file);
        Path config = modelDir.resolve("tokenizer_config.json");
        if (Files.exists(config)) {
            JsonFiles.readObject(config);
        }
        return file;
    }

    /** Token ids of {@code text}, without special tokens. */
    public long[] encode(String text) {
        Encoding encoding = tokenizer.encode(text, false, false);
        return encoding.getIds();
    }

    /** {@code [BOS] + encode(text)}: the evaluation protocol's encoding of a whole text. */
    public long[] encodeWithBos(String text) {
        long[] ids = encode(text);
        long[] out = new long[ids.length + 1];
        out[0] = bosId;
        System.arraycopy(ids, 0, out, 1, ids.length);
        return out;
    }

    /** Text of the ids, special tokens skipped. */
    public String decode(long[] ids) {
        return tokenizer.decode(ids, true);
    }

    /**
     * Text that {@code generated} adds after {@code prompt}. Decoding the new ids alone would drop the
     * leading space SentencePiece-style tokenizers keep in their pieces; decoding prompt and continuation
     * together and cutting off the prompt's text keeps it.
     */
    public String decodeContinuation(long[] prompt, long[] generated) {
        String before = decode(prompt);
        long[] all = java.util.Arrays.copyOf(prompt, prompt.length + generated.length);
        System.arraycopy(generated, 0, all, prompt.length, generated.length);
        String after = decode(all);
        return after.startsWith(before) ? after.substring(before.length()) : decode(generated);
    }

    /** Beginning-of-sequence id. */
    public long bosId() {
        return bosId;
    }

    /** End-of-sequence ids: generation stops at any of them. */
    public List<Long> eosIds() {
        return eosIds;
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
