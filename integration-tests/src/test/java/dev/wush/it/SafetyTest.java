package dev.wush.it;

import static dev.wush.it.CliTest.wush;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.wush.io.SafeTensorsFile;
import dev.wush.io.TensorInfo;
import dev.wush.it.CliTest.Run;
import dev.wush.translators.NonFiniteLossException;
import dev.wush.translators.PerplexityEvaluator;
import dev.wush.translators.TokenWindows;
import dev.wush.translators.WindowLosses;
import dev.wush.zoo.WushModelZoo;
import dev.wush.zoo.llama.LlamaLoader;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The guarantees of the "Safety" section of docs/command-line.md, tried as a hostile user would: what
 * {@code --overwrite} may delete, atomic replacement, inputs validated before any work, and one clear
 * line for every bad input.
 */
class SafetyTest {

    @TempDir
    static Path tmp;

    static Path calib;

    /** A previous result of {@code wush quantize}, shared by the tests that read or damage copies of it. */
    static Path quantized;

    @BeforeAll
    static void prepare() throws Exception {
        calib = tmp.resolve("calib.txt");
        Files.writeString(calib, Files.readString(Shared.TINYSTORIES_EVAL).substring(0, 12_000));
        quantized = tmp.resolve("quantized");
        Run q = quantize("stories260K", quantized);
        assertEquals(0, q.code(), q.err());
    }

    static Run quantize(String model, Path out, String... more) {
        List<String> args = new ArrayList<>(List.of("quantize", "--model", model, "--calib", calib.toString(),
                "--calib-windows", "4", "--method", "rtn", "--out", out.toString()));
        args.addAll(List.of(more));
        return wush(args.toArray(String[]::new));
    }

    /** A writable copy of a shared model in its own directory, beside an unrelated file of the user's. */
    static Path copyOfModel(String name) throws IOException {
        Path parent = Files.createTempDirectory(tmp, "work");
        Path model = Files.createDirectory(parent.resolve(name));
        try (Stream<Path> files = Files.list(Shared.model(name))) {
            for (Path f : files.toList()) {
                Files.write(model.resolve(f.getFileName()), Files.readAllBytes(f));
            }
        }
        Files.writeString(parent.resolve("unrelated.txt"), "the user's");
        return model;
    }

    static Path copyOf(Path dir) throws IOException {
        Path copy = Files.createTempDirectory(tmp, dir.getFileName().toString());
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.toList()) {
                Files.write(copy.resolve(f.getFileName()), Files.readAllBytes(f));
            }
        }
        return copy;
    }

    static List<String> errLines(Run run) {
        return run.err().lines().filter(l -> !l.isBlank()).toList();
    }

    static void assertOneLine(Run run, String... mentions) {
        List<String> lines = errLines(run);
        assertEquals(1, lines.size(), "one error line, got:\n" + run.err());
        String line = lines.getFirst();
        assertTrue(line.startsWith("wush ") && line.contains(": error: "), line);
        for (String m : mentions) {
            assertTrue(line.contains(m), "'" + m + "' in: " + line);
        }
        for (String leak : List.of("Exception", "com.google", "http", "java.", "Input length")) {
            assertFalse(line.contains(leak), "no library text in: " + line);
        }
    }

    // --- data loss ---------------------------------------------------------------------------------

    @Test
    void overwriteNeverReplacesTheInputModelNorADirectoryHoldingIt() throws IOException {
        Path model = copyOfModel("stories260K");
        byte[] weights = Files.readAllBytes(model.resolve("model.safetensors"));

        Run parent = quantize(model.toString(), model.getParent(), "--overwrite");
        assertNotEquals(0, parent.code());
        assertOneLine(parent, "--out", "contains the input");
        Run same = quantize(model.toString(), model, "--overwrite");
        assertNotEquals(0, same.code());
        assertOneLine(same, "--out", "is the input");

        assertEquals("the user's", Files.readString(model.getParent().resolve("unrelated.txt")));
        assertTrue(java.util.Arrays.equals(weights, Files.readAllBytes(model.resolve("model.safetensors"))));
        assertFalse(Files.readString(model.resolve("config.json")).contains("quantization_config"));
    }

    @Test
    void overwriteReplacesOnlyAPreviousResult() throws IOException {
        Path mine = Files.createDirectories(tmp.resolve("mine"));
        Files.writeString(mine.resolve("notes.txt"), "keep me");
        Run foreign = quantize("stories260K", mine, "--overwrite");
        assertNotEquals(0, foreign.code());
        assertOneLine(foreign, "--out", "not a previous result", "notes.txt");
        assertEquals("keep me", Files.readString(mine.resolve("notes.txt")));

        Path previous = copyOf(quantized);
        Run replaced = quantize("stories260K", previous, "--overwrite", "--format", "nvfp4");
        assertEquals(0, replaced.code(), replaced.err());
        assertTrue(Files.readString(previous.resolve("config.json")).contains("\"format\": \"nvfp4\""));

        Files.writeString(previous.resolve("my-eval.txt"), "results I care about");
        Run extra = quantize("stories260K", previous, "--overwrite");
        assertNotEquals(0, extra.code());
        assertOneLine(extra, "my-eval.txt");
        assertTrue(Files.exists(previous.resolve("my-eval.txt")));
    }

    @Test
    void interruptedRunsAreTidiedAndSaidSo() throws IOException {
        Path out = tmp.resolve("tidy/out");
        Files.createDirectories(out.getParent());
        // what a run killed mid-write leaves (owner: a process id above Linux's pid_max, so not running)
        Path stale = Files.createDirectories(out.resolveSibling(".out.partial-4194305-1-ab"));
        Files.writeString(stale.resolve("model.safetensors"), "half");
        // what a run killed between its two renames leaves: the previous result set aside
        Path aside = copyOf(quantized);
        Files.move(aside, out.resolveSibling(".out.old-4194305-1-cd"));

        Run run = quantize("stories260K", out, "--overwrite");
        assertEquals(0, run.code(), run.err());
        assertTrue(run.err().contains("note: removed " + stale), run.err());
        assertTrue(run.err().contains("note: restored " + out), run.err());
        try (Stream<Path> left = Files.list(out.getParent())) {
            assertEquals(List.of(out), left.toList(), "only the result is left");
        }
    }

    @Test
    void unwritableOutIsReportedBeforeAnyWork() throws IOException {
        Path file = Files.writeString(tmp.resolve("a-file"), "x");
        Run run = quantize("stories260K", file.resolve("out"));
        assertEquals(1, run.code());
        assertOneLine(run, "--out", "is not a directory"); // no progress line: nothing was calibrated
        assertEquals("", run.out());
    }

    /** A full disk while the result is written: one line naming --out, nothing left behind, the old result kept. */
    @Test
    void fullDiskLeavesNothingHalfWritten() throws Exception {
        Path mount = Files.createDirectories(tmp.resolve("tiny-disk"));
        // 1000 KB: the previous result (~0.67 MB) fits, a second copy beside it does not
        Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=1000k", "tmpfs", mount.toString())
                .redirectErrorStream(true).start();
        boolean mounted = p.waitFor() == 0;
        org.junit.jupiter.api.Assumptions.assumeTrue(mounted,
                "needs permission to mount a small tmpfs (root on Linux): " + new String(p.getInputStream().readAllBytes()).strip());
        try {
            Path out = mount.resolve("out");
            Files.createDirectories(out);
            for (String name : List.of("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "report.json")) {
                Files.write(out.resolve(name), Files.readAllBytes(quantized.resolve(name)));
            }
            byte[] before = Files.readAllBytes(out.resolve("model.safetensors"));
            Run run = quantize("stories260K", out, "--overwrite");
            assertEquals(1, run.code(), run.err());
            String last = errLines(run).getLast(); // after the progress lines of the calibration
            assertTrue(last.startsWith("wush quantize: error: --out " + out) && last.contains("writing the result failed")
                    && last.contains("nothing was replaced"), run.err());
            assertTrue(java.util.Arrays.equals(before, Files.readAllBytes(out.resolve("model.safetensors"))), "old result kept");
            try (Stream<Path> left = Files.list(mount)) {
                assertEquals(List.of(out), left.toList(), "no staging directory left");
            }
        } finally {
            new ProcessBuilder("umount", mount.toString()).start().waitFor();
        }
    }

    @Test
    void resultsHaveTheUsersDefaultPermissions() throws IOException {
        Set<PosixFilePermission> dir = Files.getPosixFilePermissions(Files.createDirectory(tmp.resolve("usual-dir")));
        Set<PosixFilePermission> file = Files.getPosixFilePermissions(Files.createFile(tmp.resolve("usual-file")));
        assertEquals(dir, Files.getPosixFilePermissions(quantized));
        for (String name : List.of("model.safetensors", "config.json", "tokenizer.json", "report.json")) {
            assertEquals(file, Files.getPosixFilePermissions(quantized.resolve(name)), name);
        }
    }

    // --- crash and silently wrong results ------------------------------------------------------------

    @Test
    void hugeMaxTokensIsCappedByTheContext() {
        Run run = wush("generate", "--model", "stories260K", "--prompt", "Once upon a time", "--max-tokens", "2000000000");
        assertEquals(0, run.code(), run.err());
        assertTrue(run.out().length() > 100, run.out());
    }

    @Test
    void promptLongerThanTheContextPrintsNothing() {
        Run run = wush("generate", "--model", "stories260K", "--prompt", "Once upon a time ".repeat(200));
        assertEquals(2, run.code());
        assertOneLine(run, "context is 512");
        assertEquals("", run.out());
    }

    @Test
    void unknownActivationsInAQuantizedConfigIsRejected() throws IOException {
        Path copy = editQuantizationConfig(q -> q.addProperty("activations", "int8"));
        Run run = wush("eval", "--model", copy.toString(), "--data", calib.toString());
        assertEquals(1, run.code());
        assertOneLine(run, "quantization_config.activations", "int8");

        Path noLayers = editQuantizationConfig(q -> q.remove("layers"));
        Run missing = wush("eval", "--model", noLayers.toString(), "--data", calib.toString());
        assertOneLine(missing, "quantization_config.layers");

        Path wrongShape = editQuantizationConfig(q -> q.getAsJsonObject("layers")
                .getAsJsonObject("model.layers.0.mlp.down_proj").addProperty("in", 64));
        assertOneLine(wush("eval", "--model", wrongShape.toString(), "--data", calib.toString()),
                "model.layers.0.mlp.down_proj", "(out, in)");

        Path notALinear = editQuantizationConfig(q -> q.getAsJsonObject("layers")
                .add("model.norm", q.getAsJsonObject("layers").get("model.layers.0.mlp.down_proj")));
        assertOneLine(wush("eval", "--model", notALinear.toString(), "--data", calib.toString()), "model.norm");
    }

    @Test
    void nanScaleCodeInAQuantizedCheckpointIsRejected() throws IOException {
        Path copy = copyOf(quantized);
        patchTensorByte(copy.resolve("model.safetensors"), "model.layers.1.self_attn.q_proj.scales", 5, (byte) 0xFF);
        Run run = wush("eval", "--model", copy.toString(), "--data", calib.toString());
        assertEquals(1, run.code());
        assertOneLine(run, "model.layers.1.self_attn.q_proj.scales", "scale code 255");
    }

    @Test
    void nanWeightIsNamedAtLoad() throws IOException {
        Path model = copyOfModel("stories260K");
        String tensor = "model.layers.2.mlp.down_proj.weight";
        ByteBuffer nan = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(Float.NaN);
        for (int i = 0; i < 4; i++) {
            patchTensorByte(model.resolve("model.safetensors"), tensor, 40 + i, nan.get(i));
        }
        Run run = wush("eval", "--model", model.toString(), "--data", calib.toString());
        assertEquals(1, run.code());
        assertOneLine(run, tensor, "NaN");
    }

    @Test
    void overlappingTensorsAreRejected() throws IOException {
        Path model = copyOfModel("stories260K");
        Path file = model.resolve("model.safetensors");
        byte[] bytes = Files.readAllBytes(file);
        int headerBytes = (int) ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        JsonObject header = JsonParser.parseString(new String(bytes, 8, headerBytes, java.nio.charset.StandardCharsets.UTF_8))
                .getAsJsonObject();
        // point the norm of block 1 at the bytes of block 0's norm (same size): overlap and gap
        header.getAsJsonObject("model.layers.1.input_layernorm.weight").add("data_offsets",
                header.getAsJsonObject("model.layers.0.input_layernorm.weight").get("data_offsets"));
        byte[] json = header.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + json.length + bytes.length - 8 - headerBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(json.length).put(json).put(bytes, 8 + headerBytes, bytes.length - 8 - headerBytes);
        Files.write(file, b.array());
        Run run = wush("eval", "--model", model.toString(), "--data", calib.toString());
        assertEquals(1, run.code());
        assertOneLine(run, "model.safetensors", "overlap");
    }

    @Test
    void nonFiniteLossNamesTheWindow() throws Exception {
        Criteria<TokenWindows, WindowLosses> criteria = Criteria.builder().setTypes(TokenWindows.class, WindowLosses.class)
                .optGroupId(WushModelZoo.GROUP_ID).optArtifactId("stories260K").build();
        try (ZooModel<TokenWindows, WindowLosses> model = criteria.loadModel();
                Predictor<TokenWindows, WindowLosses> predictor = model.newPredictor()) {
            // a weight set by hand after loading, past what float32 logits can hold
            LlamaLoader.parameter(model.getBlock(), "model.norm.weight").getArray().muli(1e38f);
            long[] tokens = new long[3 * 64];
            java.util.Arrays.fill(tokens, 5);
            NonFiniteLossException e = assertThrows(NonFiniteLossException.class,
                    () -> new PerplexityEvaluator(64, 2).evaluate(predictor, tokens, done -> {}));
            assertEquals(0, e.window());
            assertTrue(e.getMessage().contains("window 0 (tokens 0…)") && e.getMessage().contains("overflowed"), e.getMessage());
        }
    }

    // --- validate before working, name the culprit ----------------------------------------------------

    @Test
    void windowLongerThanTheContextIsRefusedUpFront() {
        Run q = quantize("stories260K", tmp.resolve("never"), "--window", "100000");
        assertEquals(2, q.code());
        assertOneLine(q, "--window 100000", "max_position_embeddings 512");
        assertFalse(Files.exists(tmp.resolve("never")));
        Run e = wush("eval", "--model", "stories260K", "--data", calib.toString(), "--window", "4096");
        assertOneLine(e, "--window 4096", "context");
    }

    @Test
    void badTextFilesAreSaidInWords() throws IOException {
        assertOneLine(wush("eval", "--model", "stories260K", "--data", tmp.toString()), "--data", "is a directory");
        Path binary = Files.write(tmp.resolve("binary.txt"), new byte[] {'a', 'b', (byte) 0xC3, 0x28, 'c'});
        assertOneLine(wush("eval", "--model", "stories260K", "--data", binary.toString()), "--data", "not UTF-8", "offset 2");
        Run q = wush("quantize", "--model", "stories260K", "--calib", binary.toString(), "--out", tmp.resolve("never2").toString());
        assertOneLine(q, "--calib", "not UTF-8");
        assertFalse(Files.exists(tmp.resolve("never2")));
    }

    @Test
    void malformedConfigJsonIsNamed() throws IOException {
        Path model = copyOfModel("stories260K");
        Files.writeString(model.resolve("config.json"), "{\"model_type\": \"llama\",\n \"hidden_size\": 64,,\n}");
        assertOneLine(wush("eval", "--model", model.toString(), "--data", calib.toString()), "config.json", "invalid JSON", "line 2");
        Files.writeString(model.resolve("config.json"), Files.readString(Shared.model("stories260K").resolve("config.json"))
                .replace("\"max_position_embeddings\": 512", "\"max_position_embeddings\": 0"));
        assertOneLine(wush("eval", "--model", model.toString(), "--data", calib.toString()), "max_position_embeddings");

        Files.write(model.resolve("config.json"), Files.readAllBytes(Shared.model("stories260K").resolve("config.json")));
        Files.writeString(model.resolve("tokenizer.json"), "{\"version\": \"1.0\", \"model\": ");
        assertOneLine(wush("generate", "--model", model.toString(), "--prompt", "Once"), "tokenizer.json", "invalid JSON");
    }

    @Test
    void usageErrorsAreOneLine() {
        Run missing = wush("quantize", "--model", "stories260K");
        assertEquals(2, missing.code());
        assertOneLine(missing, "--calib", "--out", "wush quantize --help");
        Run notANumber = wush("generate", "--model", "stories260K", "--prompt", "x", "--max-tokens", "lots");
        assertEquals(2, notANumber.code());
        assertOneLine(notANumber, "--max-tokens");
        Run unknown = wush("eval", "--model", "stories260K", "--data", calib.toString(), "--windw", "3");
        assertEquals(2, unknown.code());
        assertOneLine(unknown, "--windw");
        assertOneLine(quantize("stories260K", tmp.resolve("never3"), "--transform", "adaptive:kurtosis=NaN"), "NaN");
        Run typo = wush("evl", "--model", "stories260K");
        assertEquals(2, typo.code());
        assertTrue(typo.err().strip().startsWith("wush: error: ") && typo.err().contains("did you mean eval")
                && typo.err().strip().lines().count() == 1, typo.err());
        assertOneLine(wush("eval", "--model", calib.toString(), "--data", calib.toString()), "--model", "a file");
    }

    @Test
    void progressIsPlainLinesWhenRedirected() {
        Run run = wush("eval", "--model", "stories260K", "--data", calib.toString());
        assertEquals(0, run.code(), run.err());
        assertFalse(run.err().contains("\r"), "no carriage returns in a log");
        assertTrue(run.err().lines().anyMatch(l -> l.startsWith("eval 100%")), run.err());
    }

    @Test
    void quantizeOnLoadChecksItsArgumentsBeforeLoading() {
        Criteria.Builder<TokenWindows, WindowLosses> base = Criteria.builder().setTypes(TokenWindows.class, WindowLosses.class)
                .optGroupId(WushModelZoo.GROUP_ID).optArtifactId("stories260K")
                .optArgument("quantization", "wush:mxfp4").optArgument("calibration", calib.toString());
        IllegalArgumentException activations = assertThrows(IllegalArgumentException.class,
                () -> base.optArgument("activations", "int8").build().loadModel().close());
        assertTrue(activations.getMessage().contains("int8"), activations.getMessage());
        IllegalArgumentException window = assertThrows(IllegalArgumentException.class,
                () -> base.optArgument("activations", "full").optArgument("window", "4096").build().loadModel().close());
        assertTrue(window.getMessage().contains("max_position_embeddings"), window.getMessage());
        IllegalArgumentException hidden = assertThrows(IllegalArgumentException.class,
                () -> base.optArgument("window", "64").optArgument("calibHidden", "int8").build().loadModel().close());
        assertTrue(hidden.getMessage().contains("calibHidden 'int8'"), hidden.getMessage());
    }

    // --- helpers ------------------------------------------------------------------------------------

    static Path editQuantizationConfig(java.util.function.Consumer<JsonObject> edit) throws IOException {
        Path copy = copyOf(quantized);
        JsonObject root = JsonParser.parseString(Files.readString(copy.resolve("config.json"))).getAsJsonObject();
        edit.accept(root.getAsJsonObject("quantization_config"));
        Files.writeString(copy.resolve("config.json"), new GsonBuilder().setPrettyPrinting().create().toJson(root));
        return copy;
    }

    /** Overwrites one byte of a tensor's data in place. */
    static void patchTensorByte(Path file, String tensor, long offset, byte value) throws IOException {
        long at;
        try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
            // the tensors tile the data section, which ends the file
            long dataStart = Files.size(file) - f.tensors().values().stream().mapToLong(TensorInfo::end).max().orElseThrow();
            at = dataStart + f.info(tensor).begin() + offset;
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[] {value}), at);
        }
    }
}
