package dev.wush.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonParser;
import dev.wush.zoo.hub.FakeHub;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code wush eval --model hf:…} as a user runs it (a separate process, its environment naming the
 * hub and cache), against a local server serving a copy of stories260K in the hub's URL layout.
 */
class HubCliTest {

    static final Path CLI_JAR = Path.of(System.getProperty("wush.cli.jar", "../cli/target/wush-cli.jar"));

    @TempDir
    Path tmp;

    @Test
    void evalDownloadsFromTheHubIntoHfHome() throws Exception {
        Path text = tmp.resolve("stories.txt");
        Files.writeString(text, Files.readString(Shared.TINYSTORIES_EVAL).substring(0, 30_000));
        try (FakeHub hub = new FakeHub()) {
            hub.addModelDir("karpathy/stories260K-hf", "c0ffee".repeat(6) + "0123", Shared.model("stories260K"), "hf_token_1");
            hub.cutTransfers("model.safetensors", 1, 200_000); // the first transfer breaks; the CLI resumes it
            Map<String, String> env = Map.of(
                    "HF_ENDPOINT", hub.endpoint().toString(),
                    "HF_HOME", tmp.resolve("hf").toString(),
                    "HF_TOKEN", "hf_token_1");
            Result remote = wush(env, "eval", "--model", "hf:karpathy/stories260K-hf", "--data", text.toString(), "--json");
            assertEquals(0, remote.code(), remote.err());
            assertTrue(Files.isDirectory(tmp.resolve("hf/hub/models--karpathy--stories260K-hf/snapshots")));
            assertTrue(remote.err().contains("model.safetensors"), "progress names the file: " + remote.err());
            assertTrue(hub.requests().stream().anyMatch(r -> FakeHub.resumesWithin(r, 200_000)), "resumed: " + hub.requests());

            Result local = wush(Map.of(), "eval", "--model", Shared.model("stories260K").toString(), "--data", text.toString(), "--json");
            assertEquals(0, local.code(), local.err());
            assertEquals(ppl(local), ppl(remote), 0.0);

            // the token is required: without it the CLI says what to do
            Map<String, String> noToken = Map.of("HF_ENDPOINT", hub.endpoint().toString(), "HF_HOME", tmp.resolve("hf2").toString());
            Result denied = wush(noToken, "eval", "--model", "hf:karpathy/stories260K-hf", "--data", text.toString());
            assertEquals(1, denied.code());
            assertTrue(denied.err().contains("HF_TOKEN"), denied.err());
        }
    }

    record Result(int code, String out, String err) {}

    static double ppl(Result r) {
        return JsonParser.parseString(r.out().lines().toList().getLast()).getAsJsonObject().get("ppl").getAsDouble();
    }

    static Result wush(Map<String, String> env, String... args) throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-Dai.djl.offline=true",
                "-jar", CLI_JAR.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().keySet().removeIf(k -> k.startsWith("HF_"));
        pb.environment().putAll(env);
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        Path out = Files.createTempFile("wush", ".out");
        Path err = Files.createTempFile("wush", ".err");
        pb.redirectOutput(out.toFile()).redirectError(err.toFile());
        Process p = pb.start();
        if (!p.waitFor(5, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("wush " + String.join(" ", args) + " did not finish");
        }
        return new Result(p.exitValue(), Files.readString(out), Files.readString(err));
    }
}
