package dev.wush.zoo.hub;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A local stand-in for the Hugging Face hub, serving repositories in the hub's URL layout:
 * {@code /api/models/{repo}/revision/{rev}} (file listing with sizes, git blob ids and LFS sha256) and
 * {@code /{repo}/resolve/{rev}/{file}} (with range requests). LFS files redirect to a second server on
 * another port, like the hub's CDN, which records whether an Authorization header reached it.
 * Faults can be injected: transfers cut after N bytes, corrupted content, gated repositories.
 */
public final class FakeHub implements AutoCloseable {

    /** One served request: path, Range header, whether it carried a bearer token. */
    public record Request(String path, String range, boolean authorized) {}

    private record Repo(String commit, Map<String, byte[]> files, String requiredToken) {}

    private final HttpServer hub;
    private final HttpServer cdn;
    private final Map<String, Repo> repos = new ConcurrentHashMap<>();
    private final Map<String, byte[]> blobsBySha = new ConcurrentHashMap<>();
    private final Map<String, Long> cutAfter = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> cutsLeft = new ConcurrentHashMap<>();
    private final Map<String, byte[]> corrupted = new ConcurrentHashMap<>();
    private final List<Request> requests = new CopyOnWriteArrayList<>();

    public FakeHub() throws IOException {
        InetAddress loopback = InetAddress.getLoopbackAddress();
        hub = HttpServer.create(new InetSocketAddress(loopback, 0), 0);
        cdn = HttpServer.create(new InetSocketAddress(loopback, 0), 0);
        hub.createContext("/", this::handleHub);
        cdn.createContext("/", this::handleCdn);
        hub.start();
        cdn.start();
    }

    /** The hub's base URL, for {@code HF_ENDPOINT}. */
    public URI endpoint() {
        return URI.create("http://127.0.0.1:" + hub.getAddress().getPort());
    }

    /** Serves {@code files} as repository {@code repo} at commit {@code commit}; gated when a token is given. */
    public FakeHub addRepo(String repo, String commit, Map<String, byte[]> files, String requiredToken) {
        repos.put(repo, new Repo(commit, new LinkedHashMap<>(files), requiredToken));
        files.forEach((name, bytes) -> blobsBySha.put(sha256(bytes), bytes));
        return this;
    }

    /** Serves the files of a model directory (plus a README and a .bin that must not be fetched). */
    public FakeHub addModelDir(String repo, String commit, Path dir, String requiredToken) throws IOException {
        Map<String, byte[]> files = new LinkedHashMap<>();
        try (var list = Files.list(dir)) {
            for (Path p : list.sorted().toList()) {
                files.put(p.getFileName().toString(), Files.readAllBytes(p));
            }
        }
        files.put("README.md", "# a model card\n".getBytes(StandardCharsets.UTF_8));
        files.put("pytorch_model.bin", new byte[1000]);
        return addRepo(repo, commit, files, requiredToken);
    }

    /**
     * True for a range request that resumes after at most {@code cut} bytes: bytes the server wrote
     * before dropping the connection may never reach the client, so the exact offset can be lower.
     */
    public static boolean resumesWithin(Request r, long cut) {
        if (r.range() == null || !r.range().startsWith("bytes=")) {
            return false;
        }
        long from = Long.parseLong(r.range().substring(6, r.range().length() - 1));
        return from > 0 && from <= cut;
    }

    /** The next {@code times} transfers of {@code file} stop after {@code bytes} bytes. */
    public void cutTransfers(String file, int times, long bytes) {
        cutAfter.put(file, bytes);
        cutsLeft.put(file, new AtomicInteger(times));
    }

    /** Serves other bytes than the listing describes for {@code file}. */
    public void corrupt(String file, byte[] served) {
        corrupted.put(file, served);
    }

    /** Every request so far, hub and CDN. */
    public List<Request> requests() {
        return List.copyOf(requests);
    }

    private void handleHub(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getPath();
        requests.add(new Request(path, ex.getRequestHeaders().getFirst("Range"), authorized(ex)));
        try (ex) {
            if (path.startsWith("/api/models/")) {
                String rest = path.substring("/api/models/".length());
                int rev = rest.indexOf("/revision/");
                String repoId = rest.substring(0, rev);
                String revision = rest.substring(rev + "/revision/".length());
                Repo repo = repos.get(repoId);
                if (repo == null || !(revision.equals("main") || revision.equals(repo.commit()))) {
                    send(ex, 404, "{\"error\":\"Repository not found\"}");
                    return;
                }
                if (!allowed(ex, repo)) {
                    send(ex, 401, "{\"error\":\"Access to this model is restricted\"}");
                    return;
                }
                send(ex, 200, listing(repoId, repo).toString());
                return;
            }
            int resolve = path.indexOf("/resolve/");
            if (resolve < 0) {
                send(ex, 404, "not found");
                return;
            }
            String repoId = path.substring(1, resolve);
            String[] revAndFile = path.substring(resolve + "/resolve/".length()).split("/", 2);
            Repo repo = repos.get(repoId);
            byte[] content = repo == null ? null : repo.files().get(revAndFile[1]);
            if (content == null || !(revAndFile[0].equals("main") || revAndFile[0].equals(repo.commit()))) {
                send(ex, 404, "Entry not found");
                return;
            }
            if (!allowed(ex, repo)) {
                send(ex, 401, "Access restricted");
                return;
            }
            if (isLfs(revAndFile[1])) {
                ex.getResponseHeaders().add("Location", "http://127.0.0.1:" + cdn.getAddress().getPort() + "/blobs/"
                        + sha256(content) + "?file=" + revAndFile[1]);
                ex.sendResponseHeaders(302, -1);
                return;
            }
            serve(ex, revAndFile[1], content);
        }
    }

    private void handleCdn(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getPath();
        requests.add(new Request("cdn:" + path, ex.getRequestHeaders().getFirst("Range"), authorized(ex)));
        try (ex) {
            byte[] content = blobsBySha.get(path.substring("/blobs/".length()));
            String file = ex.getRequestURI().getQuery().substring("file=".length());
            if (content == null) {
                send(ex, 404, "no such blob");
                return;
            }
            serve(ex, file, content);
        }
    }

    private void serve(HttpExchange ex, String file, byte[] content) throws IOException {
        byte[] body = corrupted.getOrDefault(file, content);
        String range = ex.getRequestHeaders().getFirst("Range");
        int from = 0;
        if (range != null && range.startsWith("bytes=") && range.endsWith("-")) {
            from = Integer.parseInt(range.substring(6, range.length() - 1));
            if (from >= body.length) {
                ex.getResponseHeaders().add("Content-Range", "bytes */" + body.length);
                ex.sendResponseHeaders(416, -1);
                return;
            }
            ex.getResponseHeaders().add("Content-Range", "bytes " + from + "-" + (body.length - 1) + "/" + body.length);
            ex.sendResponseHeaders(206, body.length - from);
        } else {
            ex.sendResponseHeaders(200, body.length);
        }
        int to = body.length;
        AtomicInteger cuts = cutsLeft.get(file);
        if (cuts != null && cuts.getAndDecrement() > 0) {
            to = (int) Math.min(to, from + cutAfter.get(file));
        }
        OutputStream out = ex.getResponseBody();
        out.write(body, from, to - from);
        out.flush();
        // when cut short, closing the exchange drops the connection: the client sees a short body
    }

    private static JsonObject listing(String repoId, Repo repo) {
        JsonObject o = new JsonObject();
        o.addProperty("id", repoId);
        o.addProperty("sha", repo.commit());
        JsonArray siblings = new JsonArray();
        repo.files().forEach((name, bytes) -> {
            JsonObject s = new JsonObject();
            s.addProperty("rfilename", name);
            s.addProperty("size", bytes.length);
            s.addProperty("blobId", gitBlobId(isLfs(name) ? ("version https://git-lfs.github.com/spec/v1\n" + sha256(bytes)).getBytes(StandardCharsets.UTF_8) : bytes));
            if (isLfs(name)) {
                JsonObject lfs = new JsonObject();
                lfs.addProperty("sha256", sha256(bytes));
                lfs.addProperty("size", bytes.length);
                lfs.addProperty("pointerSize", 134);
                s.add("lfs", lfs);
            }
            siblings.add(s);
        });
        o.add("siblings", siblings);
        return o;
    }

    private static boolean isLfs(String name) {
        return name.endsWith(".safetensors") || name.endsWith(".bin");
    }

    private boolean allowed(HttpExchange ex, Repo repo) {
        return repo.requiredToken() == null
                || ("Bearer " + repo.requiredToken()).equals(ex.getRequestHeaders().getFirst("Authorization"));
    }

    private static boolean authorized(HttpExchange ex) {
        return ex.getRequestHeaders().getFirst("Authorization") != null;
    }

    private static void send(HttpExchange ex, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        ex.sendResponseHeaders(status, bytes.length);
        ex.getResponseBody().write(bytes);
    }

    static String sha256(byte[] bytes) {
        return digest("SHA-256", bytes, null);
    }

    static String gitBlobId(byte[] bytes) {
        return digest("SHA-1", bytes, ("blob " + bytes.length + "\0").getBytes(StandardCharsets.US_ASCII));
    }

    private static String digest(String algorithm, byte[] bytes, byte[] prefix) {
        try {
            MessageDigest md = MessageDigest.getInstance(algorithm);
            if (prefix != null) {
                md.update(prefix);
            }
            return HexFormat.of().formatHex(md.digest(bytes));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        hub.stop(0);
        cdn.stop(0);
    }
}
