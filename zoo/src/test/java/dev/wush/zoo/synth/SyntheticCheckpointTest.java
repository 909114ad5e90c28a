package dev.wush.zoo.synth;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.wush.io.SafeTensorsCheckpoint;
import dev.wush.io.TensorType;
import dev.wush.translators.TextTokenizer;
import dev.wush.zoo.llama.LlamaConfig;
import dev.wush.zoo.llama.LlamaForCausalLM;
import dev.wush.zoo.llama.LlamaLoader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SyntheticCheckpointTest {

    @TempDir
    Path tmp;

    /** Llama-3.2-1B's config made small (so the test is fast) but with its real 128256-token vocabulary. */
    static JsonObject small() {
        JsonObject c = LlamaPresets.config("llama-3.2-1b");
        c.addProperty("hidden_size", 64);
        c.addProperty("intermediate_size", 160);
        c.addProperty("num_hidden_layers", 2);
        c.addProperty("num_attention_heads", 4);
        c.addProperty("num_key_value_heads", 2);
        c.addProperty("head_dim", 16);
        return c;
    }

    Path write(String name, JsonObject config, TensorType type, long seed, long shardBytes) throws IOException {
        Path dir = Files.createDirectory(tmp.resolve(name));
        new SyntheticCheckpoint(config, type, seed).write(dir, shardBytes, done -> {});
        return dir;
    }

    static byte[] weights(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            java.io.ByteArrayOutputStream all = new java.io.ByteArrayOutputStream();
            for (Path f : files.filter(p -> p.toString().endsWith(".safetensors")).sorted().toList()) {
                all.write(Files.readAllBytes(f));
            }
            return all.toByteArray();
        }
    }

    @Test
    void loadsAsTheModelItDescribes() throws IOException {
        Path dir = write("m", small(), TensorType.BF16, 7, 4_000_000);
        assertTrue(Files.isRegularFile(dir.resolve(SafeTensorsCheckpoint.INDEX_FILE)), "several shards: 16 MB of embedding");
        LlamaConfig config = LlamaConfig.load(dir);
        assertEquals(DataType.BFLOAT16, config.torchDtype());
        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            LlamaForCausalLM lm = LlamaLoader.load(dir, manager, DataType.FLOAT32); // shapes, names, finiteness
            float[] norm = LlamaLoader.parameter(lm, "model.layers.1.input_layernorm.weight").getArray().toFloatArray();
            long massive = java.util.Arrays.stream(boxed(norm)).filter(v -> v >= 10).count();
            assertEquals(SyntheticCheckpoint.OUTLIER_CHANNELS, massive, "the massive-activation channels");
            float[] q = LlamaLoader.parameter(lm, "model.layers.0.self_attn.q_proj.weight").getArray().toFloatArray();
            double sum = 0;
            for (float v : q) {
                sum += v * v;
            }
            double std = Math.sqrt(sum / q.length);
            int heavy = SyntheticCheckpoint.OUTLIER_COLUMNS;
            double expected = 0.02 * Math.sqrt((64 - heavy + heavy * Math.pow(SyntheticCheckpoint.OUTLIER_COLUMN_SCALE, 2)) / 64);
            assertEquals(expected, std, 0.1 * expected, "std 0.02 with 8 of the 64 input columns 8× larger");
        }
    }

    private static Float[] boxed(float[] a) {
        Float[] b = new Float[a.length];
        for (int i = 0; i < a.length; i++) {
            b[i] = a[i];
        }
        return b;
    }

    @Test
    void theSeedAloneDecidesTheWeights() throws IOException {
        byte[] a = weights(write("a", small(), TensorType.F32, 3, Long.MAX_VALUE));
        byte[] b = weights(write("b", small(), TensorType.F32, 3, Long.MAX_VALUE));
        byte[] c = weights(write("c", small(), TensorType.F32, 4, Long.MAX_VALUE));
        assertArrayEquals(a, b);
        assertFalse(java.util.Arrays.equals(a, c));
    }

    @Test
    void tokenizerCoversTheWholeVocabulary() throws IOException {
        Path dir = write("t", small(), TensorType.BF16, 1, Long.MAX_VALUE);
        JsonObject vocab = JsonParser.parseString(Files.readString(dir.resolve("tokenizer.json")))
                .getAsJsonObject().getAsJsonObject("model").getAsJsonObject("vocab");
        assertEquals(128256, vocab.size());
        boolean[] seen = new boolean[128256];
        vocab.entrySet().forEach(e -> seen[e.getValue().getAsInt()] = true);
        for (int id = 0; id < seen.length; id++) {
            assertTrue(seen[id], "id " + id);
        }
        assertEquals(128000, vocab.get("<|begin_of_text|>").getAsInt());
        assertEquals(128009, vocab.get("<|eot_id|>").getAsInt());
        try (TextTokenizer tokenizer = TextTokenizer.load(dir, 128000, List.of(128001L, 128009L))) {
            long[] ids = tokenizer.encode("the cat sat on the mat, 42!");
            assertTrue(ids.length > 0 && ids.length < 27, "merged tokens: " + ids.length);
            assertEquals("the cat sat on the mat, 42!", tokenizer.decode(ids));
        }
    }

    @Test
    void presetsAreTheRealShapes() {
        LlamaConfig c = LlamaConfig.parse(LlamaPresets.config("llama-3.1-8b"), "preset");
        assertEquals(List.of(4096, 14336, 32, 32, 8, 128256), List.of(c.hiddenSize(), c.intermediateSize(),
                c.numHiddenLayers(), c.numAttentionHeads(), c.numKeyValueHeads(), c.vocabSize()));
        long bytes = new SyntheticCheckpoint(LlamaPresets.config("llama-3.1-8b"), TensorType.BF16, 0).weightBytes();
        assertEquals(16_060_522_496L, bytes, "Llama-3.1-8B's 8.03B parameters in bf16");
        assertThrows(IllegalArgumentException.class, () -> LlamaPresets.config("llama-9"));
    }
}
