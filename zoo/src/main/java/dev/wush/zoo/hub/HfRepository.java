package dev.wush.zoo.hub;

import ai.djl.repository.AbstractRepository;
import ai.djl.repository.Artifact;
import ai.djl.repository.MRL;
import ai.djl.repository.Metadata;
import ai.djl.repository.zoo.DefaultModelZoo;
import ai.djl.util.Progress;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A Hugging Face hub repository as a DJL {@link ai.djl.repository.Repository}, for {@code hf://owner/name[@revision]}
 * URLs ({@link HfRepositoryFactory}): preparing its artifact downloads the checkpoint into the hub's standard cache
 * (with DJL's {@link Progress}), and its resource directory is that snapshot. The artifact carries the arguments and
 * options a loader needs to build the model ({@code blockFactory}, {@code translatorFactory}, {@code hasParameter}),
 * given by whoever registers the factory.
 */
public final class HfRepository extends AbstractRepository {

    private final HubModelId id;
    private final Supplier<Artifact> artifacts;
    private volatile Artifact artifact;
    private volatile Path snapshot;

    private HfRepository(String name, URI uri, HubModelId id, Supplier<Artifact> artifacts) {
        super(name, uri);
        this.id = id;
        this.artifacts = artifacts;
    }

    /** A repository for {@code id}, whose artifact {@code artifacts} makes (with the arguments and options to load it). */
    public static HfRepository of(String name, URI uri, HubModelId id, Supplier<Artifact> artifacts) {
        return new HfRepository(name, uri, id, artifacts);
    }

    /** The model id this repository stands for. */
    public HubModelId modelId() {
        return id;
    }

    @Override
    public boolean isRemote() {
        return true;
    }

    @Override
    public Metadata locate(MRL mrl) {
        Metadata metadata = new Metadata.MatchAllMetadata();
        metadata.setRepositoryUri(URI.create(""));
        metadata.setArtifactId(artifactId());
        metadata.setArtifacts(List.of(artifact()));
        return metadata;
    }

    @Override
    public Artifact resolve(MRL mrl, Map<String, String> filter) {
        return artifact();
    }

    private synchronized Artifact artifact() {
        if (artifact == null) {
            Artifact a = artifacts.get();
            a.setName(artifactId());
            a.getArguments().putAll(arguments); // the URL's query, as DJL's repositories take it
            artifact = a;
        }
        return artifact;
    }

    private String artifactId() {
        return id.repo().substring(id.repo().indexOf('/') + 1);
    }

    @Override
    public List<MRL> getResources() {
        return List.of(MRL.undefined(this, DefaultModelZoo.GROUP_ID, artifactId()));
    }

    /** Downloads config, tokenizer and weights (resuming, verified), reporting bytes to {@code progress}. */
    @Override
    public void prepare(Artifact artifact, Progress progress) throws IOException {
        HfHub hub = HfHub.fromEnvironment().listener(progress == null ? DownloadListener.SILENT : listener(progress)).build();
        snapshot = hub.download(id);
        if (artifact.getArguments().get("blockFactory") instanceof ProgressAware aware) {
            aware.setProgress(progress); // quantize-on-load reports through the same progress
        }
    }

    /** The snapshot directory once prepared; before, a path that does not exist. */
    @Override
    public Path getResourceDirectory(Artifact artifact) {
        Path s = snapshot;
        return s != null ? s : HfHub.fromEnvironment().build().hubCache().resolve(id.cacheFolder()).resolve("not-prepared");
    }

    @Override
    public Path getCacheDirectory() {
        return HfHub.fromEnvironment().build().hubCache();
    }

    /** A block factory that reports its own work (quantizing on load) to the loader's progress. */
    public interface ProgressAware {
        void setProgress(Progress progress);
    }

    /** Hub downloads told to a DJL {@link Progress}: one bar per file, in bytes. */
    public static DownloadListener listener(Progress progress) {
        return new ProgressListener(progress);
    }

    private static final class ProgressListener implements DownloadListener {
        private final Progress progress;

        ProgressListener(Progress progress) {
            this.progress = progress;
        }

        @Override
        public void fileStarted(String file, long totalBytes, long alreadyHave) {
            progress.reset("Downloading " + file, Math.max(totalBytes, 1));
            progress.start(alreadyHave);
        }

        @Override
        public void bytesReceived(long bytes) {
            progress.increment(bytes);
        }

        @Override
        public void fileFinished(String file, boolean fromCache) {
            progress.end();
        }
    }
}
