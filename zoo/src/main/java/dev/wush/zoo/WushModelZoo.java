package dev.wush.zoo;

import ai.djl.repository.zoo.ModelZoo;
import java.util.Set;

/**
 * The project's DJL model zoo, group id {@value #GROUP_ID}: one loader per {@link ModelCatalog} entry plus the
 * loader {@code llama} that takes any directory or {@code hf:} id from the criteria argument
 * {@code model}.
 */
public final class WushModelZoo extends ModelZoo {

    public static final String GROUP_ID = "dev.wush";

    /** Artifact id of the loader that loads the checkpoint named by the criteria argument {@code model}. */
    public static final String ANY_LLAMA = "llama";

    public WushModelZoo() {
        for (ModelEntry e : ModelCatalog.ENTRIES) {
            addModel(new LlamaModelLoader(e));
        }
        addModel(new LlamaModelLoader(null));
    }

    @Override
    public String getGroupId() {
        return GROUP_ID;
    }

    @Override
    public Set<String> getSupportedEngines() {
        return Set.of("PyTorch");
    }
}
