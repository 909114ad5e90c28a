package dev.wush.zoo.llama;

import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.wush.io.CheckpointException;
import dev.wush.io.JsonFiles;
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
        if (!Files.exists(file)) {
            throw new NoSuchFileException(file.toString(), null, "no such file (a Hugging Face model directory needs config.json)");
        }
        try {
            return parse(JsonFiles.readObject(file), file.toString());
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(e.getMessage(), e);
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
        int context = f.optionalInt("max_position_embeddings", 2048);
        if (context <= 0) {
            throw f.error("max_position_embeddings", "must be positive, got " + context);
        }
        double eps = f.optionalDouble("rms_norm_eps", 1e-6);
        if (!(eps > 0) || !Double.isFinite(eps)) {
            throw f.error("rms_norm_eps", "must be a positive finite number, got " + eps);
        }
        double theta = f.optionalDouble("rope_theta", 10000.0);
        if (!(theta > 0) || !Double.isFinite(theta)) {
            throw f.error("rope_theta", "must be a positive finite number, got " + theta);
        }
        int bos = f.optionalInt("bos_token_id", 1);
        if (bos < 0 || bos >= vocab) {
            throw f.error("bos_token_id", bos + " is not a token id of the " + vocab + "-token vocabulary");
        }
        List<Integer> eos = eosIds(f);
        for (int id : eos) {
            if (id < 0 || id >= vocab) {
                throw f.error("eos_token_id", id + " is not a token id of the " + vocab + "-token vocabulary");
            }
        }
        return new LlamaConfig(
                hidden,
                intermediate,
                layers,
                heads,
                kvHeads,
                headDim,
                eps,
                theta,
                ropeScaling(f),
                f.optionalBoolean("tie_word_embeddings", false),
                f.optionalBoolean("attention_bias", false),
                f.optionalBoolean("mlp_bias", false),
                vocab,
                context,
                dtype(f),
                bos,
                eos);
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
        double factor = r.requiredDouble("factor");
        double low = r.requiredDouble("low_freq_factor");
        double high = r.requiredDouble("high_freq_factor");
        int original = r.requiredInt("original_max_position_embeddings");
        if (!(factor >= 1) || !Double.isFinite(factor)) {
            throw r.error("factor", "must be a finite number ≥ 1, got " + factor);
        }
        if (!(low > 0) || !(high > low) || !Double.isFinite(high)) {
            throw r.error("high_freq_factor", "must be finite and above low_freq_factor > 0, got low " + low + ", high " + high);
        }
        if (original <= 0) {
            throw r.error("original_max_position_embeddings", "must be positive, got " + original);
        }
        return new Llama3RopeScaling(factor, low, high, original);
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
                Long id = JsonFiles.exactLong(e);
                if (id == null || id < Integer.MIN_VALUE || id > Integer.MAX_VALUE) {
                    throw f.error("eos_token_id", "expected integers, got " + e);
                }
                ids.add(id.intValue());
            }
            if (ids.isEmpty()) {
                throw f.error("eos_token_id", "an empty list");
            }
        } else {
            ids.add(f.requiredInt("eos_token_id"));
        }
        return List.copyOf(ids);
    }

    /**
     * Throws unless a window of {@code length} tokens fits the context ({@code max_position_embeddings});
     * {@code option} names the setting in the message, {@code modelDir} the config.
     */
    public void requireWindow(String option, int length, Path modelDir) {
        if (length > maxPositionEmbeddings) {
            throw new IllegalArgumentException(option + " " + length + " is longer than the model's context ("
                    + "max_position_embeddings " + maxPositionEmbeddings + " in " + modelDir.resolve("config.json") + ")");
        }
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
            JsonElement v = json.get(name);
            if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isString()) {
                throw error(name, "expected a string, got " + v);
            }
            return v.getAsString();
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
            Long v = JsonFiles.exactLong(e);
            if (v == null || v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
                throw error(name, "expected an integer, got " + e);
            }
            return v.intValue();
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
            Double v = JsonFiles.number(json.get(name));
            if (v == null) {
                throw error(name, "expected a number, got " + json.get(name));
            }
            return v;
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
