package dev.wush.zoo;

import dev.wush.Settings;
import dev.wush.zoo.hub.DownloadListener;
import dev.wush.zoo.hub.HfHub;
import dev.wush.zoo.hub.HubModelId;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Turns what a user writes after {@code --model} into a local Hugging Face model directory:
 *
 * <ul>
 *   <li>a directory path: used as it is;
 *   <li>{@code hf:owner/name[@revision]}: downloaded into the hub cache ({@link HfHub});
 *   <li>a zoo name ({@link ModelCatalog.ENTRIES}): found in a local models directory, else
 *       downloaded from its hub repository.
 * </ul>
 *
 * Local models directories, in order: {@code $WUSH_MODELS_DIR} (or the system property
 * {@code wush.models.dir}), then {@code ./models} and {@code ../shared/models}.
 */
public final class ModelResolver {

    private final Map<String, String> env;
    private final List<Path> modelDirs;
    private final HfHub hub;

    public ModelResolver(Map<String, String> env, List<Path> modelDirs, HfHub hub) {
        this.env = env;
        this.modelDirs = List.copyOf(modelDirs);
        this.hub = hub;
    }

    /** A resolver for this process: its environment, the default model directories, the hub settings. */
    public static ModelResolver fromEnvironment(DownloadListener listener) {
        Map<String, String> env = System.getenv();
        return new ModelResolver(env, defaultModelDirs(env), HfHub.fromEnvironment().listener(listener).build());
    }

    /** {@code $WUSH_MODELS_DIR} or {@code -Dwush.models.dir}, then ./models and ../shared/models. */
    public static List<Path> defaultModelDirs(Map<String, String> env) {
        List<Path> dirs = new ArrayList<>();
        String configured = env.containsKey("WUSH_MODELS_DIR") ? env.get("WUSH_MODELS_DIR") : Settings.get(Settings.MODELS_DIR);
        if (configured != null && !configured.isBlank()) {
            dirs.add(Path.of(configured));
        }
        dirs.add(Path.of("models"));
        dirs.add(Path.of("..", "shared", "models"));
        return dirs;
    }

    /** The local directory holding {@code model}'s config, tokenizer and weights. */
    public Path resolve(String model) throws IOException {
        if (model == null || model.isBlank()) {
            throw new IllegalArgumentException("model is empty: give a directory, hf:owner/name or a zoo name "
                    + ModelCatalog.names());
        }
        if (HubModelId.isHubId(model)) {
            return hub.download(HubModelId.parse(model));
        }
        ModelEntry entry = ModelCatalog.entry(model);
        Path asPath = Path.of(model);
        if (Files.isDirectory(asPath)) {
            return requireModelDir(asPath);
        }
        if (entry == null && Files.exists(asPath)) {
            throw new IllegalArgumentException("model " + model + ": a file; give the model's directory (the one holding"
                    + " config.json)");
        }
        if (entry == null) {
            throw new IllegalArgumentException("model " + model + ": no such directory, and not a zoo name "
                    + ModelCatalog.names() + " or hf:owner/name id");
        }
        return resolve(entry);
    }

    /** A zoo entry: the first local models directory that has it, else its hub repository. */
    public Path resolve(ModelEntry entry) throws IOException {
        for (Path dir : modelDirs) {
            Path candidate = dir.resolve(entry.localName());
            if (Files.isRegularFile(candidate.resolve("config.json"))) {
                return candidate;
            }
        }
        String repo = env.getOrDefault(entry.hubVariable(), entry.hubRepo());
        if (repo == null) {
            throw new IOException(entry.artifactId() + " is not in any local models directory " + modelDirs
                    + " and has no published Hugging Face repository in transformers layout; put it in one of"
                    + " those directories (or set WUSH_MODELS_DIR), or set " + entry.hubVariable()
                    + " to a hub repository that holds it");
        }
        return hub.download(HubModelId.parse(repo));
    }

    private static Path requireModelDir(Path dir) throws IOException {
        if (!Files.isRegularFile(dir.resolve("config.json"))) {
            throw new IOException(dir + ": not a Hugging Face model directory (no config.json)");
        }
        return dir;
    }
}
