package dev.wush.zoo.llama;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;

/**
 * Fuzzes {@link LlamaConfig#load} with corrupted config.json files: truncations, byte flips, fields
 * removed or set to values of the wrong type, sign or size. Each file is either rejected with an
 * {@link IOException} whose one-line message starts with the file's path, or accepted as a config that
 * an independent check finds runnable (positive sizes, heads divisible by key/value heads, even head
 * size, positive finite epsilon and theta, token ids in the vocabulary, sane rope scaling).
 */
class LlamaConfigFuzzTest {

    static final List<String> FIELDS = List.of("hidden_size", "intermediate_size", "num_hidden_layers",
            "num_attention_heads", "num_key_value_heads", "head_dim", "vocab_size", "max_position_embeddings",
            "rms_norm_eps", "rope_theta", "bos_token_id", "eos_token_id", "tie_word_embeddings", "torch_dtype",
            "model_type", "hidden_act", "rope_scaling", "attention_bias", "mlp_bias");

    static final List<JsonElement> VALUES = List.of(new JsonPrimitive(0), new JsonPrimitive(-1), new JsonPrimitive(1),
            new JsonPrimitive(3), new JsonPrimitive(64), new JsonPrimitive(2.5), new JsonPrimitive(1e-5),
            new JsonPrimitive(2147483648L), new JsonPrimitive(1e300), new JsonPrimitive("64"), new JsonPrimitive(""),
            new JsonPrimitive(true), JsonNull.INSTANCE, new JsonArray(), new JsonObject(), new JsonPrimitive(-1e-5),
            JsonParser.parseString("[1, 2]"), JsonParser.parseString("[1.5]"),
            JsonParser.parseString("{\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0}"),
            JsonParser.parseString("{\"rope_type\": \"llama3\", \"factor\": -2, \"low_freq_factor\": 1.0,"
                    + " \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192}"));

    @Property(tries = 1500, seed = "20261201")
    void corruptedConfigsAreRejectedCleanlyOrRunnable(@ForAll long seed) throws IOException {
        Random random = new Random(seed);
        String base = random.nextBoolean() ? LlamaConfigTest.LLAMA31_8B
                : Files.readString(LlamaConfigTest.MODELS.resolve("stories260K/config.json"));
        byte[] bytes = mutate(base, random);
        Path dir = Files.createTempDirectory("config-fuzz");
        Path file = dir.resolve("config.json");
        try {
            Files.write(file, bytes);
            LlamaConfig c;
            try {
                c = LlamaConfig.load(dir);
            } catch (IOException e) {
                String m = e.getMessage();
                assertTrue(m.startsWith(file.toString()), m);
                assertFalse(m.contains("\n") || m.contains("Exception") || m.contains("com.google") || m.contains("http"), m);
                return;
            }
            assertRunnable(c);
        } finally {
            Files.deleteIfExists(file);
            Files.deleteIfExists(dir);
        }
    }

    static void assertRunnable(LlamaConfig c) {
        String s = c.toString();
        for (int v : new int[] {c.hiddenSize(), c.intermediateSize(), c.numHiddenLayers(), c.numAttentionHeads(),
            c.numKeyValueHeads(), c.headDim(), c.vocabSize(), c.maxPositionEmbeddings()}) {
            assertTrue(v > 0, s);
        }
        assertTrue(c.numAttentionHeads() % c.numKeyValueHeads() == 0 && c.headDim() % 2 == 0, s);
        assertTrue(c.rmsNormEps() > 0 && Double.isFinite(c.rmsNormEps()), s);
        assertTrue(c.ropeTheta() > 0 && Double.isFinite(c.ropeTheta()), s);
        assertTrue(c.bosTokenId() >= 0 && c.bosTokenId() < c.vocabSize(), s);
        assertFalse(c.eosTokenIds().isEmpty(), s);
        c.eosTokenIds().forEach(id -> assertTrue(id >= 0 && id < c.vocabSize(), s));
        if (c.ropeScaling() != null) {
            var r = c.ropeScaling();
            assertTrue(r.factor() >= 1 && r.lowFreqFactor() > 0 && r.highFreqFactor() > r.lowFreqFactor()
                    && r.originalMaxPositionEmbeddings() > 0, s);
        }
        float[] inv = RotaryEmbedding.inverseFrequencies(c.headDim(), c.ropeTheta(), c.ropeScaling());
        for (float f : inv) {
            assertTrue(Float.isFinite(f), s);
        }
    }

    static byte[] mutate(String json, Random random) {
        byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
        switch (random.nextInt(6)) {
            case 0 -> {
                return Arrays.copyOf(bytes, random.nextInt(bytes.length + 1));
            }
            case 1 -> {
                byte[] b = bytes.clone();
                for (int i = 0, k = 1 + random.nextInt(3); i < k; i++) {
                    int at = random.nextInt(b.length);
                    b[at] = (byte) (b[at] ^ (1 << random.nextInt(8)));
                }
                return b;
            }
            default -> {
                JsonObject o = JsonParser.parseString(json).getAsJsonObject();
                for (int i = 0, k = 1 + random.nextInt(3); i < k; i++) {
                    String field = FIELDS.get(random.nextInt(FIELDS.size()));
                    if (random.nextInt(4) == 0) {
                        o.remove(field);
                    } else {
                        o.add(field, VALUES.get(random.nextInt(VALUES.size())).deepCopy());
                    }
                }
                return o.toString().getBytes(StandardCharsets.UTF_8);
            }
        }
    }
}
