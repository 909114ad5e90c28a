package dev.wush.zoo;

import ai.djl.repository.Artifact;
import ai.djl.repository.Repository;
import ai.djl.repository.RepositoryFactory;
import dev.wush.zoo.hub.HfRepository;
import dev.wush.zoo.hub.HubModelId;
import java.net.URI;
import java.util.Set;

/**
 * The {@code hf} URL scheme for DJL ({@code META-INF/services}): {@code Criteria.optModelUrls("hf://owner/name")}
 * or {@code hf://owner/name@revision} loads a Llama-family checkpoint from the Hugging Face hub through DJL's
 * {@code BaseModelLoader}, with {@link LlamaBlockFactory} building the model. Query parameters become criteria
 * arguments ({@code hf://owner/name?dtype=float16}), as with DJL's own repositories.
 */
public final class HfRepositoryFactory implements RepositoryFactory {

    @Override
    public Repository newInstance(String name, URI uri) {
        if (!"hf".equalsIgnoreCase(uri.getScheme()) || uri.getHost() == null || uri.getPath() == null || uri.getPath().length() < 2) {
            throw new IllegalArgumentException("'" + uri + "': expected hf://owner/name or hf://owner/name@revision");
        }
        HubModelId id = HubModelId.parse(uri.getHost() + uri.getPath());
        return HfRepository.of(name, uri, id, HfRepositoryFactory::artifact);
    }

    /** What a loader needs besides the files: our block factory and translators, and no DJL parameter file. */
    private static Artifact artifact() {
        Artifact a = new Artifact();
        a.getArguments().put("blockFactory", new LlamaBlockFactory());
        a.getArguments().put("translatorFactory", LlamaTranslatorFactory.class.getName());
        a.getArguments().put("engine", "PyTorch");
        a.setOptions(new java.util.HashMap<>(java.util.Map.of(LlamaBlockFactory.HAS_PARAMETER, "false")));
        return a;
    }

    @Override
    public Set<String> getSupportedScheme() {
        return Set.of("hf");
    }
}
