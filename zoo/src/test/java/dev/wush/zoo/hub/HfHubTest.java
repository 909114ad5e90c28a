package dev.wush.zoo.hub;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HfHubTest {

    static final Path STORIES = Path.of(System.getProperty("wush.shared.dir", "../../shared"), "models", "stories260K");
    static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";

    @TempDir
    Path cache;

    FakeHub server;

    @BeforeEach
    void start() throws IOException {
        server = new FakeHub();
        server.addModelDir("test/stories260K", COMMIT, STORIES, null);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    HfHub.Builder hub() {
        return new HfHub.Builder().endpoint(server.endpoint()).hubCache(cache);
    }

    @Test
    void downloadsIntoTheStandardCacheLayout() throws IOException {
        Path snapshot = hub().build().download(HubModelId.parse("hf:test/stories260K"));
        Path repoDir = cache.resolve("models--test--stories260K");
        assertEquals(repoDir.resolve("snapshots").resolve(COMMIT), snapshot);
        assertEquals(COMMIT, Files.readString(repoDir.resolve("refs/main")));
        for (String name : List.of("config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors")) {
            Path file = snapshot.resolve(name);
            assertTrue(Files.isSymbolicLink(file), name + " should link into blobs/");
            assertTrue(Files.readSymbolicLink(file).toString().startsWith("../../blobs/"), Files.readSymbolicLink(file).toString());
            assertArrayEquals(Files.readAllBytes(STORIES.resolve(name)), Files.readAllBytes(file), name);
        }
        // the blob of an LFS file is named by its sha256
        byte[] weights = Files.readAllBytes(STORIES.resolve("model.safetensors"));
        assertTrue(Files.isRegularFile(repoDir.resolve("blobs").resolve(FakeHub.sha256(weights))));
        // only what a model needs
        assertFalse(Files.exists(snapshot.resolve("README.md")));
        assertFalse(Files.exists(snapshot.resolve("pytorch_model.bin")));
        try (var blobs = Files.list(repoDir.resolve("blobs"))) {
            assertTrue(blobs.noneMatch(p -> p.toString().endsWith(".incomplete")));
        }
    }

    @Test
    void secondDownloadComesFromTheCache() throws IOException {
        HfHub hub = hub().build();
        hub.download(HubModelId.parse("hf:test/stories260K"));
        int before = server.requests().size();
        List<String> cached = new ArrayList<>();
        hub = hub().listener(new DownloadListener() {
            @Override
            public void fileFinished(String file, boolean fromCache) {
                if (fromCache) {
                    cached.add(file);
                }
            }
        }).build();
        hub.download(HubModelId.parse("hf:test/stories260K"));
        List<FakeHub.Request> after = server.requests().subList(before, server.requests().size());
        assertEquals(1, after.size(), "only the file listing is asked for: " + after);
        assertTrue(cached.contains("model.safetensors"));
    }

    @Test
    void resumesAnInterruptedTransferWithARangeRequest() throws IOException {
        server.cutTransfers("model.safetensors", 1, 300_000);
        List<Long> resumedFrom = new ArrayList<>();
        Path snapshot = hub().listener(new DownloadListener() {
            @Override
            public void fileStarted(String file, long total, long alreadyHave) {
                if (file.equals("model.safetensors")) {
                    resumedFrom.add(alreadyHave);
                }
            }
        }).build().download(HubModelId.parse("hf:test/stories260K"));
        assertArrayEquals(Files.readAllBytes(STORIES.resolve("model.safetensors")), Files.readAllBytes(snapshot.resolve("model.safetensors")));
        assertEquals(2, resumedFrom.size(), resumedFrom.toString());
        assertEquals(0L, resumedFrom.get(0));
        assertTrue(resumedFrom.get(1) > 0 && resumedFrom.get(1) <= 300_000, resumedFrom.toString());
        assertTrue(server.requests().stream().anyMatch(r -> FakeHub.resumesWithin(r, 300_000)), server.requests().toString());
    }

    @Test
    void resumesAcrossRuns() throws IOException {
        server.cutTransfers("model.safetensors", 1, 500_000);
        HubException e = assertThrows(HubException.class,
                () -> hub().attempts(1).build().download(HubModelId.parse("hf:test/stories260K")));
        assertTrue(e.getMessage().contains("run again to resume"), e.getMessage());
        byte[] weights = Files.readAllBytes(STORIES.resolve("model.safetensors"));
        Path partial = cache.resolve("models--test--stories260K/blobs/" + FakeHub.sha256(weights) + ".incomplete");
        long kept = Files.size(partial);
        assertTrue(kept > 0 && kept <= 500_000, "partial file of " + kept + " bytes");

        Path snapshot = hub().build().download(HubModelId.parse("hf:test/stories260K"));
        assertArrayEquals(weights, Files.readAllBytes(snapshot.resolve("model.safetensors")));
        assertTrue(server.requests().stream().anyMatch(r -> ("bytes=" + kept + "-").equals(r.range())), server.requests().toString());
        assertFalse(Files.exists(partial));
    }

    @Test
    void rejectsContentThatDoesNotMatchTheListedHash() throws IOException {
        byte[] weights = Files.readAllBytes(STORIES.resolve("model.safetensors"));
        byte[] bad = weights.clone();
        bad[bad.length / 2] ^= 1;
        server.corrupt("model.safetensors", bad);
        HubException e = assertThrows(HubException.class, () -> hub().build().download(HubModelId.parse("hf:test/stories260K")));
        assertTrue(e.getMessage().contains("model.safetensors") && e.getMessage().contains("does not match"), e.getMessage());
        Path blobs = cache.resolve("models--test--stories260K/blobs");
        assertFalse(Files.exists(blobs.resolve(FakeHub.sha256(weights))));
        assertFalse(Files.exists(blobs.resolve(FakeHub.sha256(weights) + ".incomplete")));
    }

    @Test
    void rejectsACorruptedSmallFileByItsGitBlobId() throws IOException {
        byte[] config = Files.readAllBytes(STORIES.resolve("config.json"));
        byte[] bad = new String(config, StandardCharsets.UTF_8).replace("64", "65").getBytes(StandardCharsets.UTF_8);
        server.corrupt("config.json", bad);
        HubException e = assertThrows(HubException.class, () -> hub().build().download(HubModelId.parse("hf:test/stories260K")));
        assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("git blob id"), e.getMessage());
    }

    @Test
    void gatedRepositoryNeedsAToken() throws IOException {
        server.addModelDir("meta/gated", COMMIT, STORIES, "hf_secret");
        HubException e = assertThrows(HubException.class, () -> hub().build().download(HubModelId.parse("hf:meta/gated")));
        assertTrue(e.getMessage().contains("HF_TOKEN") && e.getMessage().contains("401"), e.getMessage());
        HubException wrong = assertThrows(HubException.class,
                () -> hub().token("hf_wrong").build().download(HubModelId.parse("hf:meta/gated")));
        assertTrue(wrong.getMessage().contains("refused"), wrong.getMessage());

        Path snapshot = hub().token("hf_secret").build().download(HubModelId.parse("hf:meta/gated"));
        assertTrue(Files.isRegularFile(snapshot.resolve("model.safetensors")));
        // the token goes to the hub, never to the CDN host it redirects to
        assertTrue(server.requests().stream().filter(r -> r.path().startsWith("cdn:")).noneMatch(FakeHub.Request::authorized));
        assertTrue(server.requests().stream().filter(r -> r.path().startsWith("/meta/gated")).allMatch(FakeHub.Request::authorized));
    }

    @Test
    void unknownRepositoryOrRevision() {
        HubException e = assertThrows(HubException.class, () -> hub().build().download(HubModelId.parse("hf:test/nothing")));
        assertTrue(e.getMessage().contains("404"), e.getMessage());
        assertThrows(HubException.class, () -> hub().build().download(HubModelId.parse("hf:test/stories260K@v9")));
    }

    @Test
    void pinnedCommitDownloadsWithoutWritingARef() throws IOException {
        Path snapshot = hub().build().download(HubModelId.parse("hf:test/stories260K@" + COMMIT));
        assertTrue(Files.isRegularFile(snapshot.resolve("config.json")));
        assertFalse(Files.exists(cache.resolve("models--test--stories260K/refs/" + COMMIT)));
    }

    @Test
    void fallsBackToTheCacheWithoutNetwork() throws IOException {
        Path first = hub().build().download(HubModelId.parse("hf:test/stories260K"));
        URI closed = server.endpoint();
        server.close();
        List<String> notes = new ArrayList<>();
        HfHub offline = new HfHub.Builder().endpoint(closed).hubCache(cache).listener(new DownloadListener() {
            @Override
            public void note(String message) {
                notes.add(message);
            }
        }).build();
        assertEquals(first, offline.download(HubModelId.parse("hf:test/stories260K")));
        assertTrue(notes.stream().anyMatch(n -> n.contains("cached")), notes.toString());
        assertEquals(first, new HfHub.Builder().endpoint(closed).hubCache(cache).offline(true).build()
                .download(HubModelId.parse("hf:test/stories260K")));
        HubException e = assertThrows(HubException.class,
                () -> new HfHub.Builder().endpoint(closed).hubCache(cache).build().download(HubModelId.parse("hf:other/model")));
        assertTrue(e.getMessage().contains("unreachable"), e.getMessage());
    }

    @Test
    void downloadsTheShardsTheIndexLists() throws IOException {
        byte[] a = "shard-one".getBytes(StandardCharsets.UTF_8);
        byte[] b = "shard-two".getBytes(StandardCharsets.UTF_8);
        String index = "{\"weight_map\": {\"x\": \"model-00001-of-00002.safetensors\", \"y\": \"model-00002-of-00002.safetensors\"}}";
        server.addRepo("test/sharded", COMMIT, Map.of(
                "config.json", "{}".getBytes(StandardCharsets.UTF_8),
                "model.safetensors.index.json", index.getBytes(StandardCharsets.UTF_8),
                "model-00001-of-00002.safetensors", a,
                "model-00002-of-00002.safetensors", b,
                "consolidated.safetensors", new byte[64]), null);
        Path snapshot = hub().build().download(HubModelId.parse("hf:test/sharded"));
        assertArrayEquals(a, Files.readAllBytes(snapshot.resolve("model-00001-of-00002.safetensors")));
        assertArrayEquals(b, Files.readAllBytes(snapshot.resolve("model-00002-of-00002.safetensors")));
        assertFalse(Files.exists(snapshot.resolve("consolidated.safetensors")));
    }

    @Test
    void repositoryWithoutSafetensors() {
        server.addRepo("test/bin-only", COMMIT, Map.of("config.json", new byte[2], "pytorch_model.bin", new byte[8]), null);
        HubException e = assertThrows(HubException.class, () -> hub().build().download(HubModelId.parse("hf:test/bin-only")));
        assertTrue(e.getMessage().contains("safetensors"), e.getMessage());
    }

    @Test
    void readsSettingsFromTheEnvironmentLikeHuggingfaceHub(@TempDir Path home) throws IOException {
        HfHub a = HfHub.fromEnvironment(Map.of("HF_HOME", "/data/hf", "HF_ENDPOINT", "http://mirror:8080/"), home).build();
        assertEquals(Path.of("/data/hf/hub"), a.hubCache());
        HfHub b = HfHub.fromEnvironment(Map.of("HF_HOME", "/data/hf", "HF_HUB_CACHE", "/fast/hub"), home).build();
        assertEquals(Path.of("/fast/hub"), b.hubCache());
        HfHub c = HfHub.fromEnvironment(Map.of(), home).build();
        assertEquals(home.resolve(".cache/huggingface/hub"), c.hubCache());
        HfHub d = HfHub.fromEnvironment(Map.of("XDG_CACHE_HOME", "/xdg"), home).build();
        assertEquals(Path.of("/xdg/huggingface/hub"), d.hubCache());

        // HF_TOKEN, else the token file huggingface-cli login writes
        server.addModelDir("meta/gated", COMMIT, STORIES, "hf_secret");
        Path hfHome = home.resolve("hf");
        Files.createDirectories(hfHome);
        Files.writeString(hfHome.resolve("token"), "hf_secret\n");
        Map<String, String> env = Map.of("HF_HOME", hfHome.toString(), "HF_ENDPOINT", server.endpoint().toString());
        assertTrue(Files.isDirectory(HfHub.fromEnvironment(env, home).build().download(HubModelId.parse("hf:meta/gated"))));
        Map<String, String> wrong = Map.of("HF_HOME", home.resolve("other").toString(), "HF_TOKEN", "hf_wrong",
                "HF_ENDPOINT", server.endpoint().toString());
        assertThrows(HubException.class, () -> HfHub.fromEnvironment(wrong, home).build().download(HubModelId.parse("hf:meta/gated")));
    }

    @Test
    void parsesModelIds() {
        assertEquals(new HubModelId("meta-llama/Llama-3.1-8B-Instruct", "main"), HubModelId.parse("hf:meta-llama/Llama-3.1-8B-Instruct"));
        assertEquals(new HubModelId("a/b", "v1.0"), HubModelId.parse("hf:a/b@v1.0"));
        assertEquals("models--a--b", HubModelId.parse("hf:a/b").cacheFolder());
        for (String bad : List.of("hf:", "hf:noslash", "hf:a/b/c", "hf:../x", "hf:a/b@", "hf:a/b@../../etc")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HubModelId.parse(bad), bad);
            assertTrue(e.getMessage().contains(bad), e.getMessage());
        }
    }
}
