package dev.wush.zoo.hub;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.wush.io.AtomicFiles;
import dev.wush.io.CheckpointException;
import dev.wush.io.JsonFiles;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Downloads the files a Llama checkpoint needs (config, tokenizer, safetensors shards) from the
 * Hugging Face hub into the hub's standard cache layout, so that Python tools and this library share
 * one cache:
 *
 * <pre>
 * $HF_HUB_CACHE/models--owner--name/blobs/&lt;sha256 or git blob id&gt;
 *                                  /snapshots/&lt;commit&gt;/&lt;file&gt; → ../../blobs/…
 *                                  /refs/&lt;revision&gt;              (the commit)
 * </pre>
 *
 * Interrupted downloads stay as {@code blobs/<id>.incomplete} and resume with an HTTP range request,
 * within a run (retries) and across runs. Every file is checked against the size and hash the hub
 * lists (sha256 for LFS files, the git blob id otherwise) before it enters the cache.
 */
public final class HfHub {

    /** Files besides the weights that a model directory needs. */
    static final Set<String> METADATA_FILES = Set.of(
            "config.json",
            "generation_config.json",
            "tokenizer.json",
            "tokenizer_config.json",
            "special_tokens_map.json");

    static final String INDEX = "model.safetensors.index.json";
    static final String SINGLE = "model.safetensors";

    private final URI endpoint;
    private final Path hubCache;
    private final String token;
    private final boolean offline;
    private final int attempts;
    private final DownloadListener listener;
    private final HttpClient http;

    private HfHub(Builder b) {
        this.endpoint = b.endpoint;
        this.hubCache = b.hubCache;
        this.token = b.token;
        this.offline = b.offline;
        this.attempts = b.attempts;
        this.listener = b.listener;
        this.http = HttpClient.newBuilder()
                .followRedirects(HttpClient.Redirect.NEVER) // followed by hand, see send()
                .connectTimeout(Duration.ofSeconds(30))
                .build();
    }

    /** Settings from the process environment, as {@code huggingface_hub} reads them. */
    public static Builder fromEnvironment() {
        Map<String, String> settings = new java.util.HashMap<>();
        for (String name : List.of("HF_ENDPOINT", "HF_HOME", "XDG_CACHE_HOME", "HF_HUB_CACHE", "HF_TOKEN", "HF_TOKEN_PATH", "HF_HUB_OFFLINE")) {
            String value = ai.djl.util.Utils.getEnvOrSystemProperty(name); // as DJL reads settings: the variable, else -D
            if (value != null) {
                settings.put(name, value);
            }
        }
        return fromEnvironment(settings, Path.of(System.getProperty("user.home")));
    }

    /**
     * Settings from an environment map: {@code HF_ENDPOINT}, {@code HF_HOME} (default
     * {@code $XDG_CACHE_HOME/huggingface} or {@code ~/.cache/huggingface}), {@code HF_HUB_CACHE}
     * (default {@code $HF_HOME/hub}), {@code HF_TOKEN} (else the file {@code $HF_HOME/token}) and
     * {@code HF_HUB_OFFLINE}.
     */
    public static Builder fromEnvironment(Map<String, String> env, Path userHome) {
        Builder b = new Builder();
        String endpoint = env.getOrDefault("HF_ENDPOINT", "https://huggingface.co");
        b.endpoint(URI.create(endpoint.endsWith("/") ? endpoint.substring(0, endpoint.length() - 1) : endpoint));
        Path hfHome = env.containsKey("HF_HOME")
                ? Path.of(env.get("HF_HOME"))
                : env.containsKey("XDG_CACHE_HOME")
                        ? Path.of(env.get("XDG_CACHE_HOME"), "huggingface")
                        : userHome.resolve(".cache/huggingface");
        b.hubCache(env.containsKey("HF_HUB_CACHE") ? Path.of(env.get("HF_HUB_CACHE")) : hfHome.resolve("hub"));
        String token = env.get("HF_TOKEN");
        if (token == null || token.isBlank()) {
            Path tokenFile = env.containsKey("HF_TOKEN_PATH") ? Path.of(env.get("HF_TOKEN_PATH")) : hfHome.resolve("token");
            try {
                token = Files.isRegularFile(tokenFile) ? Files.readString(tokenFile).strip() : null;
            } catch (IOException e) {
                token = null;
            }
        }
        b.token(token == null || token.isBlank() ? null : token.strip());
        String off = env.getOrDefault("HF_HUB_OFFLINE", "0");
        b.offline(off.equals("1") || off.equalsIgnoreCase("true") || off.equalsIgnoreCase("yes"));
        return b;
    }

    /** Hub settings. */
    public static final class Builder {
        private URI endpoint = URI.create("https://huggingface.co");
        private Path hubCache = Path.of(System.getProperty("user.home"), ".cache/huggingface/hub");
        private String token;
        private boolean offline;
        private int attempts = 5;
        private DownloadListener listener = DownloadListener.SILENT;

        public Builder endpoint(URI endpoint) {
            this.endpoint = endpoint;
            return this;
        }

        public Builder hubCache(Path hubCache) {
            this.hubCache = hubCache;
            return this;
        }

        public Builder token(String token) {
            this.token = token;
            return this;
        }

        public Builder offline(boolean offline) {
            this.offline = offline;
            return this;
        }

        /** How many times one file is tried (each retry resumes where the last stopped). */
        public Builder attempts(int attempts) {
            if (attempts < 1) {
                throw new IllegalArgumentException("attempts must be ≥ 1");
            }
            this.attempts = attempts;
            return this;
        }

        public Builder listener(DownloadListener listener) {
            this.listener = listener;
            return this;
        }

        public HfHub build() {
            return new HfHub(this);
        }
    }

    /** The cache root ({@code …/hub}). */
    public Path hubCache() {
        return hubCache;
    }

    /** One file of a repository as the hub lists it. */
    record RepoFile(String name, long size, String etag, boolean lfs) {}

    /**
     * Makes sure config, tokenizer and safetensors weights of the model are in the cache and returns
     * the snapshot directory holding them. Without network (or with {@code HF_HUB_OFFLINE=1}) a
     * complete cached snapshot of the revision is used.
     */
    public Path download(HubModelId id) throws IOException {
        Path repoDir = hubCache.resolve(id.cacheFolder());
        if (offline) {
            return cachedSnapshot(id, repoDir, "HF_HUB_OFFLINE is set");
        }
        JsonObject info;
        try {
            info = getJson(api(id));
        } catch (HubException e) {
            throw e;
        } catch (IOException e) {
            listener.note("cannot reach " + endpoint + " (" + e + "); looking for a cached copy");
            return cachedSnapshot(id, repoDir, "the hub at " + endpoint + " is unreachable: " + e.getMessage());
        }
        String commit = string(info, "sha", id);
        Map<String, RepoFile> files = listFiles(info, id);
        List<RepoFile> wanted = new ArrayList<>();
        for (String name : METADATA_FILES) {
            if (files.containsKey(name)) {
                wanted.add(files.get(name));
            }
        }
        if (!files.containsKey("config.json")) {
            throw new HubException(id + ": the repository has no config.json at the root");
        }
        Path snapshot = repoDir.resolve("snapshots").resolve(commit);
        if (files.containsKey(INDEX)) {
            RepoFile index = files.get(INDEX);
            fetch(id, commit, index, repoDir, snapshot);
            for (String shard : shardNames(snapshot.resolve(INDEX))) {
                RepoFile f = files.get(shard);
                if (f == null) {
                    throw new HubException(id + ": " + INDEX + " lists shard " + shard + " that the repository does not have");
                }
                wanted.add(f);
            }
        } else if (files.containsKey(SINGLE)) {
            wanted.add(files.get(SINGLE));
        } else {
            throw new HubException(id + ": the repository has no safetensors weights (" + SINGLE + " or " + INDEX
                    + "); .bin/.pth checkpoints are not supported");
        }
        for (RepoFile f : wanted) {
            fetch(id, commit, f, repoDir, snapshot);
        }
        if (!id.revision().equals(commit)) {
            AtomicFiles.writeString(repoDir.resolve("refs").resolve(id.revision()), commit);
        }
        return snapshot;
    }

    private URI api(HubModelId id) {
        return URI.create(endpoint + "/api/models/" + id.repo() + "/revision/"
                + URLEncoder.encode(id.revision(), StandardCharsets.UTF_8) + "?blobs=true");
    }

    private Path cachedSnapshot(HubModelId id, Path repoDir, String why) throws IOException {
        String commit = id.revision();
        Path ref = repoDir.resolve("refs").resolve(id.revision());
        if (!id.isCommit()) {
            if (!Files.isRegularFile(ref)) {
                throw new HubException(id + ": " + why + ", and the cache " + repoDir + " has no copy of revision "
                        + id.revision());
            }
            commit = Files.readString(ref).strip();
        }
        Path snapshot = repoDir.resolve("snapshots").resolve(commit);
        if (!Files.isRegularFile(snapshot.resolve("config.json"))) {
            throw new HubException(id + ": " + why + ", and the cached snapshot " + snapshot + " is incomplete");
        }
        listener.note(id + ": using cached snapshot " + snapshot);
        return snapshot;
    }

    private Map<String, RepoFile> listFiles(JsonObject info, HubModelId id) throws HubException {
        Map<String, RepoFile> files = new LinkedHashMap<>();
        try {
            for (JsonElement e : info.getAsJsonArray("siblings")) {
                JsonObject s = e.getAsJsonObject();
                String name = s.get("rfilename").getAsString();
                JsonObject lfs = s.has("lfs") && s.get("lfs").isJsonObject() ? s.getAsJsonObject("lfs") : null;
                if (lfs != null) {
                    files.put(name, new RepoFile(name, lfs.get("size").getAsLong(), lfs.get("sha256").getAsString(), true));
                } else if (s.has("blobId") && s.has("size")) {
                    files.put(name, new RepoFile(name, s.get("size").getAsLong(), s.get("blobId").getAsString(), false));
                }
            }
        } catch (RuntimeException e) {
            throw new HubException(id + ": unexpected file listing from " + endpoint + ": " + e.getMessage(), e);
        }
        return files;
    }

    private static List<String> shardNames(Path index) throws HubException {
        try {
            JsonElement map = JsonFiles.readObject(index).get("weight_map");
            if (map == null || !map.isJsonObject()) {
                throw new HubException(index + ": cannot read the shard list: \"weight_map\" is " + JsonFiles.kind(map));
            }
            Set<String> shards = new LinkedHashSet<>();
            for (Map.Entry<String, JsonElement> e : map.getAsJsonObject().entrySet()) {
                if (!e.getValue().isJsonPrimitive() || !e.getValue().getAsJsonPrimitive().isString()) {
                    throw new HubException(index + ": cannot read the shard list: entry " + e.getKey() + " is not a file name");
                }
                shards.add(e.getValue().getAsString());
            }
            return List.copyOf(shards);
        } catch (HubException e) {
            throw e;
        } catch (IOException e) {
            throw new HubException("cannot read the shard list: " + e.getMessage(), e);
        }
    }

    /** Puts one file into blobs/ (downloading, resuming, verifying) and links it into the snapshot. */
    private void fetch(HubModelId id, String commit, RepoFile f, Path repoDir, Path snapshot) throws IOException {
        Path blobs = repoDir.resolve("blobs");
        Files.createDirectories(blobs);
        Path blob = blobs.resolve(f.etag());
        boolean cached = Files.isRegularFile(blob) && Files.size(blob) == f.size();
        if (!cached) {
            Path part = blobs.resolve(f.etag() + ".incomplete");
            URI url = URI.create(endpoint + "/" + id.repo() + "/resolve/" + commit + "/" + f.name());
            IOException last = null;
            for (int attempt = 1; attempt <= attempts; attempt++) {
                try {
                    transfer(id, f, url, part);
                    last = null;
                    break;
                } catch (HubException e) {
                    throw e;
                } catch (IOException e) {
                    last = e;
                    listener.note(f.name() + ": attempt " + attempt + " of " + attempts + " stopped (" + e.getMessage()
                            + "); resuming");
                }
            }
            if (last != null) {
                throw new HubException(id + ": downloading " + f.name() + " failed after " + attempts
                        + " attempts; run again to resume from " + part, last);
            }
            verify(f, part);
            Files.move(part, blob, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }
        link(snapshot.resolve(f.name()), blob);
        listener.fileFinished(f.name(), cached);
    }

    /** Downloads into {@code part}, resuming from its current size. */
    private void transfer(HubModelId id, RepoFile f, URI url, Path part) throws IOException {
        long have = Files.exists(part) ? Files.size(part) : 0;
        if (have > f.size()) {
            Files.delete(part);
            have = 0;
        }
        listener.fileStarted(f.name(), f.size(), have);
        if (have == f.size()) {
            return;
        }
        HttpResponse<InputStream> response = send(url, have);
        int status = response.statusCode();
        boolean append;
        if (status == 206) {
            String range = response.headers().firstValue("Content-Range").orElse("");
            if (!range.startsWith("bytes " + have + "-")) {
                response.body().close();
                throw new IOException("server answered range " + range + " to a request from byte " + have);
            }
            append = true;
        } else if (status == 200) {
            append = false; // the server ignored the range: start over
            have = 0;
        } else if (status == 416) {
            response.body().close();
            Files.deleteIfExists(part);
            throw new IOException("range from byte " + have + " not satisfiable; restarting the file");
        } else {
            response.body().close();
            throw statusError(id, f.name(), status);
        }
        try (InputStream in = response.body();
                OutputStream out = Files.newOutputStream(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                        append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING)) {
            byte[] buf = new byte[1 << 16];
            long total = have;
            int n;
            while ((n = in.read(buf)) > 0) {
                if (total + n > f.size()) {
                    throw new HubException(f.name() + ": the server sent more than the listed " + f.size() + " bytes");
                }
                out.write(buf, 0, n);
                total += n;
                listener.bytesReceived(n);
            }
            if (total != f.size()) {
                throw new IOException("connection closed after " + total + " of " + f.size() + " bytes");
            }
        }
    }

    /** GET with optional range, following redirects; the token only goes to the hub's own host. */
    private HttpResponse<InputStream> send(URI url, long from) throws IOException {
        URI current = url;
        for (int hop = 0; hop < 10; hop++) {
            HttpRequest.Builder req = HttpRequest.newBuilder(current).timeout(Duration.ofMinutes(5)).GET();
            if (from > 0) {
                req.header("Range", "bytes=" + from + "-");
            }
            authorize(req, current);
            HttpResponse<InputStream> response;
            try {
                response = http.send(req.build(), HttpResponse.BodyHandlers.ofInputStream());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
            int status = response.statusCode();
            if (status >= 300 && status < 400 && response.headers().firstValue("Location").isPresent()) {
                response.body().close();
                current = current.resolve(response.headers().firstValue("Location").get());
                continue;
            }
            return response;
        }
        throw new IOException(url + ": too many redirects");
    }

    private void authorize(HttpRequest.Builder req, URI target) {
        boolean sameHost = target.getHost() != null && target.getHost().equalsIgnoreCase(endpoint.getHost())
                && target.getPort() == endpoint.getPort();
        if (token != null && sameHost) {
            req.header("Authorization", "Bearer " + token);
        }
    }

    private JsonObject getJson(URI url) throws IOException {
        HttpRequest.Builder req = HttpRequest.newBuilder(url).timeout(Duration.ofSeconds(60)).GET();
        authorize(req, url);
        HttpResponse<String> response;
        try {
            response = http.send(req.build(), HttpResponse.BodyHandlers.ofString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        if (response.statusCode() != 200) {
            throw statusError(null, url.getPath(), response.statusCode());
        }
        try {
            return JsonFiles.object(JsonFiles.parse(response.body(), url.toString()), url.toString());
        } catch (CheckpointException e) {
            throw new HubException(e.getMessage(), e);
        }
    }

    private HubException statusError(HubModelId id, String what, int status) {
        String who = id == null ? what : id + ": " + what;
        return switch (status) {
            case 401, 403 -> new HubException(who + ": access denied (HTTP " + status + "). The repository is gated or"
                    + " private: accept its terms on the hub and set HF_TOKEN to a token with access"
                    + (token == null ? " (none is set)" : " (the token set was refused)"));
            case 404 -> new HubException(who + ": not found (HTTP 404): check the repository id and revision");
            default -> new HubException(who + ": HTTP " + status + " from " + endpoint);
        };
    }

    private static String string(JsonObject o, String field, HubModelId id) throws HubException {
        JsonElement e = o.get(field);
        if (e == null || !e.isJsonPrimitive()) {
            throw new HubException(id + ": the hub's answer has no \"" + field + "\"");
        }
        return e.getAsString();
    }

    /** Checks size and hash of a finished download; a mismatch deletes it. */
    private static void verify(RepoFile f, Path part) throws IOException {
        long size = Files.size(part);
        String actual = f.lfs() ? sha256(part) : gitBlobSha1(part, size);
        if (size != f.size() || !actual.equalsIgnoreCase(f.etag())) {
            Files.deleteIfExists(part);
            throw new HubException(f.name() + ": downloaded file does not match the hub's listing (size " + size + " vs "
                    + f.size() + ", " + (f.lfs() ? "sha256 " : "git blob id ") + actual + " vs " + f.etag()
                    + "); it was deleted, run again");
        }
    }

    static String sha256(Path file) throws IOException {
        return digest(file, "SHA-256", null);
    }

    /** Git's blob id: sha1 of {@code "blob <size>\0"} followed by the content. */
    static String gitBlobSha1(Path file, long size) throws IOException {
        return digest(file, "SHA-1", ("blob " + size + "\0").getBytes(StandardCharsets.US_ASCII));
    }

    private static String digest(Path file, String algorithm, byte[] prefix) throws IOException {
        try {
            MessageDigest md = MessageDigest.getInstance(algorithm);
            if (prefix != null) {
                md.update(prefix);
            }
            try (InputStream in = Files.newInputStream(file)) {
                byte[] buf = new byte[1 << 20];
                int n;
                while ((n = in.read(buf)) > 0) {
                    md.update(buf, 0, n);
                }
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** snapshots/…/file → ../../blobs/id as a relative symbolic link (a copy where links fail). */
    private static void link(Path target, Path blob) throws IOException {
        Files.createDirectories(target.getParent());
        if (Files.exists(target)) {
            return;
        }
        Files.deleteIfExists(target); // a dangling link
        try {
            Files.createSymbolicLink(target, target.getParent().relativize(blob));
        } catch (UnsupportedOperationException | FileSystemException e) {
            Files.copy(blob, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }

}
