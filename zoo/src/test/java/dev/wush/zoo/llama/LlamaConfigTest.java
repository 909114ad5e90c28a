package dev.wush.zoo.llama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LlamaConfigTest {

    static final Path MODELS = Path.of(System.getProperty("wush.shared.dir", "../../shared"), "models");

    /** The config.json of Llama-3.1-8B-Instruct, as published. */
    static final String LLAMA31_8B = """
            {"architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
             "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "hidden_act": "silu",
             "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
             "max_position_embeddings": 131072, "mlp_bias": false, "model_type": "llama",
             "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8, "pretraining_tp": 1,
             "rms_norm_eps": 1e-05,
             "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                              "original_max_position_embeddings": 8192, "rope_type": "llama3"},
             "rope_theta": 500000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
             "transformers_version": "4.42.3", "use_cache": true, "vocab_size": 128256}
            """;

    @Test
    void readsTheSharedStoriesConfig() throws IOException {
        LlamaConfig c = LlamaConfig.load(MODELS.resolve("stories260K"));
        assertEquals(64, c.hiddenSize());
        assertEquals(172, c.intermediateSize());
        assertEquals(5, c.numHiddenLayers());
        assertEquals(8, c.numAttentionHeads());
        assertEquals(4, c.numKeyValueHeads());
        assertEquals(2, c.groupSize());
        assertEquals(8, c.headDim());
        assertEquals(512, c.vocabSize());
        assertEquals(512, c.maxPositionEmbeddings());
        assertEquals(1e-5, c.rmsNormEps());
        assertTrue(c.tieWordEmbeddings());
        assertNull(c.ropeScaling());
        assertEquals(DataType.FLOAT32, c.torchDtype());
        assertEquals(List.of(2), c.eosTokenIds());
    }

    @Test
    void readsLlama31WithRopeScalingAndSeveralEosIds() {
        LlamaConfig c = LlamaConfig.parse(JsonParser.parseString(LLAMA31_8B).getAsJsonObject(), "config.json");
        assertEquals(128, c.headDim());
        assertEquals(new LlamaConfig.Llama3RopeScaling(8, 1, 4, 8192), c.ropeScaling());
        assertEquals(List.of(128001, 128008, 128009), c.eosTokenIds());
        assertEquals(DataType.BFLOAT16, c.torchDtype());
        assertEquals(false, c.tieWordEmbeddings());
    }

    @Test
    void missingFieldNamesFileAndField(@TempDir Path dir) throws IOException {
        JsonObject json = JsonParser.parseString(LLAMA31_8B).getAsJsonObject();
        json.remove("hidden_size");
        Files.writeString(dir.resolve("config.json"), json.toString());
        IOException e = assertThrows(IOException.class, () -> LlamaConfig.load(dir));
        assertTrue(e.getMessage().startsWith(dir.resolve("config.json").toString()), e.getMessage());
        assertTrue(e.getMessage().contains("\"hidden_size\"") && e.getMessage().contains("missing"), e.getMessage());
    }

    @Test
    void rejectsWhatItCannotRun() {
        assertRejected("model_type", "\"mistral\"", "unsupported architecture");
        assertRejected("hidden_act", "\"gelu\"", "unsupported activation");
        assertRejected("num_key_value_heads", "5", "does not divide");
        assertRejected("rope_scaling", "{\"rope_type\": \"yarn\", \"factor\": 4}", "yarn");
        assertRejected("torch_dtype", "\"float8\"", "unsupported dtype");
        assertRejected("num_hidden_layers", "\"many\"", "expected an integer");
        assertRejected("tie_word_embeddings", "\"yes\"", "true or false");
    }

    @Test
    void rejectsValuesThatWouldFailLaterOrSilently() {
        assertRejected("max_position_embeddings", "0", "must be positive");
        assertRejected("max_position_embeddings", "-8", "must be positive");
        assertRejected("intermediate_size", "0", "must be positive");
        assertRejected("rms_norm_eps", "0", "positive finite");
        assertRejected("rms_norm_eps", "-1e-5", "positive finite");
        assertRejected("rms_norm_eps", "1e400", "positive finite");
        assertRejected("rope_theta", "0", "positive finite");
        assertRejected("bos_token_id", "128256", "vocabulary");
        assertRejected("eos_token_id", "[128001, -1]", "vocabulary");
        assertRejected("eos_token_id", "[]", "empty");
        assertRejected("hidden_size", "4096.5", "expected an integer");
        assertRejected("hidden_size", "\"4096\"", "expected an integer");
        assertRejected("hidden_size", "1e12", "expected an integer");
        assertRejected("rms_norm_eps", "\"1e-5\"", "expected a number");
        assertRejected("rope_scaling", "{\"rope_type\": \"llama3\", \"factor\": 0, \"low_freq_factor\": 1,"
                + " \"high_freq_factor\": 4, \"original_max_position_embeddings\": 8192}", "factor");
        assertRejected("rope_scaling", "{\"rope_type\": \"llama3\", \"factor\": 8, \"low_freq_factor\": 4,"
                + " \"high_freq_factor\": 4, \"original_max_position_embeddings\": 8192}", "high_freq_factor");
    }

    @Test
    void malformedJsonIsNamedWithoutTheParsersWords(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"llama\",\n \"hidden_size\": 64,,\n}");
        IOException e = assertThrows(IOException.class, () -> LlamaConfig.load(dir));
        String m = e.getMessage();
        assertTrue(m.startsWith(dir.resolve("config.json") + ": invalid JSON") && m.contains("line 2"), m);
        assertTrue(!m.contains("com.google") && !m.contains("http") && !m.contains("\n"), m);
    }

    @Test
    void missingConfigFile(@TempDir Path dir) {
        IOException e = assertThrows(IOException.class, () -> LlamaConfig.load(dir));
        assertTrue(e.getMessage().contains("config.json"), e.getMessage());
    }

    private static void assertRejected(String field, String value, String expected) {
        JsonObject json = JsonParser.parseString(LLAMA31_8B).getAsJsonObject();
        json.add(field, JsonParser.parseString(value));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.parse(json, "cfg.json"));
        assertTrue(e.getMessage().contains("cfg.json") && e.getMessage().contains(field) && e.getMessage().contains(expected),
                e.getMessage());
    }
}
