package dev.wush.zoo;

import java.util.List;

/**
 * The checkpoints the zoo knows by name. Kept apart from {@link WushModelZoo}: DJL instantiates zoos
 * while its own {@code ModelZoo} class initialises, before a subclass's static fields would exist.
 */
public final class ModelCatalog {

    private ModelCatalog() {}

    /** Known checkpoints. */
    public static final List<ModelEntry> ENTRIES = List.of(
            new ModelEntry("stories260K", null, "stories260K",
                    "Llama-2 architecture, 260K parameters, dim 64, 5 layers, GQA 8/4 heads, vocab 512, context 512;"
                            + " TinyStories (llama2.c, MIT)"),
            new ModelEntry("babyllama105", null, "babyllama105",
                    "Llama-2 architecture, dim 128, 5 layers, GQA 8/4 heads, character vocab 105, context 256;"
                            + " TinyStories (EN10/BabyLlama, MIT)"),
            new ModelEntry("smollm2-135m", "HuggingFaceTB/SmolLM2-135M", "SmolLM2-135M",
                    "Llama architecture, 135M parameters, 30 layers, GQA 9/3 heads, vocab 49152, context 8192 (Apache-2.0)"),
            new ModelEntry("llama-3.2-1b-instruct", "meta-llama/Llama-3.2-1B-Instruct", "Llama-3.2-1B-Instruct",
                    "1.24B parameters, 16 layers, GQA 32/8 heads, vocab 128256, llama3 rope scaling, bf16 (gated)"),
            new ModelEntry("llama-3.2-3b-instruct", "meta-llama/Llama-3.2-3B-Instruct", "Llama-3.2-3B-Instruct",
                    "3.21B parameters, 28 layers, GQA 24/8 heads, vocab 128256, llama3 rope scaling, bf16 (gated)"),
            new ModelEntry("llama-3.1-8b-instruct", "meta-llama/Llama-3.1-8B-Instruct", "Llama-3.1-8B-Instruct",
                    "8.03B parameters, 32 layers, GQA 32/8 heads, vocab 128256, llama3 rope scaling, bf16, 4 shards (gated)"));

    /** The entry of that artifact id (case-insensitive), or null. */
    public static ModelEntry entry(String artifactId) {
        for (ModelEntry e : ModelCatalog.ENTRIES) {
            if (e.artifactId().equalsIgnoreCase(artifactId)) {
                return e;
            }
        }
        return null;
    }

    /** The zoo names, for messages. */
    public static List<String> names() {
        return ENTRIES.stream().map(ModelEntry::artifactId).toList();
    }

}
