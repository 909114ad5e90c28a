package dev.wush.zoo.synth;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.Map;
import java.util.TreeMap;

/**
 * The published {@code config.json} of the Llama models our users quantize, by name, so that
 * synthetic checkpoints have their exact shapes (and their rope scaling, token ids and context).
 */
public final class LlamaPresets {

    private LlamaPresets() {}

    private static final String LLAMA3_COMMON = """
            "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
            "attention_bias": false, "mlp_bias": false, "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
            "bos_token_id": 128000, "vocab_size": 128256, "max_position_embeddings": 131072,
            "torch_dtype": "bfloat16", "initializer_range": 0.02""";

    private static final Map<String, String> PRESETS = new TreeMap<>(Map.of(
            "llama-3.1-8b", """
                    {%s, "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
                     "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128, "tie_word_embeddings": false,
                     "eos_token_id": [128001, 128008, 128009],
                     "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                      "original_max_position_embeddings": 8192, "rope_type": "llama3"}}""",
            "llama-3.1-70b", """
                    {%s, "hidden_size": 8192, "intermediate_size": 28672, "num_hidden_layers": 80,
                     "num_attention_heads": 64, "num_key_value_heads": 8, "head_dim": 128, "tie_word_embeddings": false,
                     "eos_token_id": [128001, 128008, 128009],
                     "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                      "original_max_position_embeddings": 8192, "rope_type": "llama3"}}""",
            "llama-3.2-1b", """
                    {%s, "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16,
                     "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 64, "tie_word_embeddings": true,
                     "eos_token_id": [128001, 128008, 128009],
                     "rope_scaling": {"factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                      "original_max_position_embeddings": 8192, "rope_type": "llama3"}}""",
            "llama-3.2-3b", """
                    {%s, "hidden_size": 3072, "intermediate_size": 8192, "num_hidden_layers": 28,
                     "num_attention_heads": 24, "num_key_value_heads": 8, "head_dim": 128, "tie_word_embeddings": true,
                     "eos_token_id": [128001, 128008, 128009],
                     "rope_scaling": {"factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                      "original_max_position_embeddings": 8192, "rope_type": "llama3"}}"""));

    /** The preset names. */
    public static java.util.Set<String> names() {
        return PRESETS.keySet();
    }

    /** A fresh copy of the named model's config.json; an error lists the names. */
    public static JsonObject config(String name) {
        String template = PRESETS.get(name);
        if (template == null) {
            throw new IllegalArgumentException("unknown model shape '" + name + "'; known: " + names());
        }
        return JsonParser.parseString(template.formatted(LLAMA3_COMMON)).getAsJsonObject();
    }
}
