package dev.wush.zoo.llama;

import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The architecture of a Llama-family checkpoint, read from its Hugging Face {@code config.json}.
 * Defaults follow {@code transformers.LlamaConfig}; values this implementation cannot run are
 * rejected with a message naming the file and field.
 *
 * @param ropeScaling null, or the {@code llama3} frequency scaling of Llama 3.1+
 * @param torchDtype the dtype the checkpoint was saved in (float32, bfloat16 or float16)
 */
public record LlamaConfig(
        int hiddenSize,
        int intermediateSize,
        int numHiddenLayers,
        int numAttentionHeads,
        int numKeyValueHeads,
        int headDim,
        double rmsNormEps,
        double ropeTheta,
        Llama3RopeScaling ropeScaling,
        boolean tieWordEmbeddings,
        boolean attentionBias,
        boolean mlpBias,
        int vocabSize,
        int maxPositionEmbeddings,
        DataType torchDtype,
        int bosTokenId,
        List<Integer> eosTokenIds) {

    /**
     * Llama 3.1's {@code rope_scaling} of {@code rope_type: "llama3"}.
     */
    public record Llama3RopeScaling(
            double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositionEmbeddings) {}

    private static final Set<String> MODEL_TYPES = Set.of("llama");

    /** Reads {@code config.json} of a model directory. */
    public static LlamaConfig load(Path modelDir) throws IOException {
        Path file = modelDir.resolve("config.json");
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new IOException(file + ": no such file (a Hugging Face model directory needs config.json)");
        }
        try {
            JsonElement root = JsonParser.parseString(text);
            if (!root.isJsonObject()) {
                throw new IOException(file + ": not a JSON object");
            }
            return parse(root.getAsJsonObject(), file.toString());
        } catch (JsonParseException e) {
            throw new IOException(file + ": invalid JSON: " + e.getMessage(), e);
        }
    }

    /** Parses a config object; {@code source} names it in error messages. */
    public static LlamaConfig parse(JsonObject json, String source) {
        Fields f = new Fields(json, source);
        String modelType = f.string("model_type", null);
        if (modelType == null) {
            throw f.error("model_type", "missing field (expected \"llama\")");
        }
        if (!MODEL_TYPES.contains(modelType)) {
            throw f.error("model_type", "unsupported architecture \"" + modelType + "\"; supported: " + MODEL_TYPES);
        }
        String act = f.string("hidden_act", "silu");
        if (!"silu".equals(act)) {
            throw f.error("hidden_act", "unsupported activation \"" + act + "\" (Llama uses silu)");
        }
        int hidden = f.requiredInt("hidden_size");
        int heads = f.requiredInt("num_attention_heads");
        int kvHeads = f.optionalInt("num_key_value_heads", heads);
        int headDim = f.optionalInt("head_dim", heads > 0 ? hidden / heads : 0);
        int layers = f.requiredInt("num_hidden_layers");
        int intermediate = f.requiredInt("intermediate_size");
        int vocab = f.requiredInt("vocab_size");
        for (String name : List.of("hidden_size", "num_attention_heads", "num_hidden_layers", "intermediate_size", "vocab_size")) {
            if (f.requiredInt(name) <= 0) {
                throw f.error(name, "must be positive");
            }
        }
        if (kvHeads <= 0 || heads % kvHeads != 0) {
            throw f.error("num_key_value_heads", kvHeads + " does not divide num_attention_heads " + heads);
        }
        if (headDim <= 0 || headDim % 2 != 0) {
            throw f.error("head_dim", headDim + " must be a positive even number (rotary embedding)");
        }
        return new LlamaConfig(
                hidden,
                intermediate,
                layers,
                heads,
                kvHeads,
                headDim,
                f.optionalDouble("rms_norm_eps", 1e-6),
                f.optionalDouble("rope_theta", 10000.0),
                ropeScaling(f),
                f.optionalBoolean("tie_word_embeddings", false),
                f.optionalBoolean("attention_bias", false),
                f.optionalBoolean("mlp_bias", false),
                vocab,
                f.optionalInt("max_position_embeddings", 2048),
                dtype(f),
                f.optionalInt("bos_token_id", 1),
                eosIds(f));
    }

    private static Llama3RopeScaling ropeScaling(Fields f) {
        if (!f.has("rope_scaling")) {
            return null;
        }
        JsonObject rs = f.object("rope_scaling");
        Fields r = new Fields(rs, f.source + " rope_scaling");
        String type = r.string("rope_type", r.string("type", null));
        if (type == null || "default".equals(type)) {
            return null;
        }
        if (!"llama3".equals(type)) {
            throw f.error("rope_scaling", "unsupported rope_type \"" + type + "\" (supported: default, llama3)");
        }
        return new Llama3RopeScaling(
                r.requiredDouble("factor"),
                r.requiredDouble("low_freq_factor"),
                r.requiredDouble("high_freq_factor"),
                r.requiredInt("original_max_position_embeddings"));
    }

    private static DataType dtype(Fields f) {
        String name = f.string("torch_dtype", f.string("dtype", "float32"));
        return switch (name) {
            case "float32" -> DataType.FLOAT32;
            case "bfloat16" -> DataType.BFLOAT16;
            case "float16" -> DataType.FLOAT16;
            default -> throw f.error("torch_dtype", "unsupported dtype \"" + name + "\" (float32, bfloat16, float16)");
        };
    }

    private static List<Integer> eosIds(Fields f) {
        List<Integer> ids = new ArrayList<>();
        if (!f.has("eos_token_id")) {
            ids.add(2);
        } else if (f.json.get("eos_token_id").isJsonArray()) {
            for (JsonElement e : f.json.getAsJsonArray("eos_token_id")) {
                ids.add(e.getAsInt());
            }
        } else {
            ids.add(f.requiredInt("eos_token_id"));
        }
        return List.copyOf(ids);
    }

    /** Number of query heads sharing one key/value head. */
    public int groupSize() {
        return numAttentionHeads / numKeyValueHeads;
    }

    /** Typed access to a JSON object with errors that name the file and field. */
    private static final class Fields {
        final JsonObject json;
        final String source;

        Fields(JsonObject json, String source) {
            this.json = json;
            this.source = source;
        }

        IllegalArgumentException error(String field, String problem) {
            return new IllegalArgumentException(source + ": field \"" + field + "\": " + problem);
        }

        boolean has(String name) {
            return json.has(name) && !json.get(name).isJsonNull();
        }

        JsonObject object(String name) {
            if (!json.get(name).isJsonObject()) {
                throw error(name, "expected an object");
            }
            return json.getAsJsonObject(name);
        }

        String string(String name, String fallback) {
            if (!has(name)) {
                return fallback;
            }
            try {
                return json.get(name).getAsString();
            } catch (RuntimeException e) {
                throw error(name, "expected a string, got " + json.get(name));
            }
        }

        int requiredInt(String name) {
            if (!has(name)) {
                throw error(name, "missing field");
            }
            return optionalInt(name, 0);
        }

        int optionalInt(String name, int fallback) {
            if (!has(name)) {
                return fallback;
            }
            JsonElement e = json.get(name);
            try {
                double v = e.getAsDouble();
                if (v != Math.rint(v) || Math.abs(v) > Integer.MAX_VALUE) {
                    throw error(name, "expected an integer, got " + e);
                }
                return (int) v;
            } catch (NumberFormatException | UnsupportedOperationException | IllegalStateException ex) {
                throw error(name, "expected an integer, got " + e);
            }
        }

        double requiredDouble(String name) {
            if (!has(name)) {
                throw error(name, "missing field");
            }
            return optionalDouble(name, 0);
        }

        double optionalDouble(String name, double fallback) {
            if (!has(name)) {
                return fallback;
            }
            try {
                return json.get(name).getAsDouble();
            } catch (NumberFormatException | UnsupportedOperationException | IllegalStateException ex) {
                throw error(name, "expected a number, got " + json.get(name));
            }
        }

        boolean optionalBoolean(String name, boolean fallback) {
            if (!has(name)) {
                return fallback;
            }
            JsonElement e = json.get(name);
            if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
                throw error(name, "expected true or false, got " + e);
            }
            return e.getAsBoolean();
        }
    }
}
