package dev.wush.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.wush.cli.WushCli;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code wush eval} and {@code wush generate} in process: outputs, JSON, and one-line errors. */
class CliTest {

    @TempDir
    static Path tmp;

    static Path text;

    /** A few sentences: fewer tokens than one window of 512. */
    static Path tiny;

    /** The first ~40 windows of the TinyStories evaluation text. */
    @BeforeAll
    static void smallText() throws Exception {
        String all = Files.readString(Shared.TINYSTORIES_EVAL);
        text = tmp.resolve("stories.txt");
        Files.writeString(text, all.substring(0, 40_000));
        tiny = tmp.resolve("tiny.txt");
        Files.writeString(tiny, all.substring(0, 600));
    }

    record Run(int code, String out, String err) {
        List<String> lines() {
            return out.lines().toList();
        }
    }

    static synchronized Run wush(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            int code = WushCli.run(args);
            return new Run(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    @Test
    void evalPrintsPerplexityAndJson() {
        Run run = wush("eval", "--model", "stories260K", "--data", text.toString(), "--json");
        assertEquals(0, run.code(), run.err());
        List<String> lines = run.lines();
        JsonObject json = JsonParser.parseString(lines.getLast()).getAsJsonObject();
        assertEquals(3, json.size());
        double ppl = json.get("ppl").getAsDouble();
        assertTrue(ppl > 3 && ppl < 10, "ppl " + ppl);
        long tokens = json.get("tokens").getAsLong();
        assertEquals(0, tokens % 255, "whole windows of 256 tokens predict 255 each");
        assertTrue(json.get("seconds").getAsDouble() > 0);
        assertTrue(run.out().contains(String.format(java.util.Locale.ROOT, "perplexity %.4f", ppl)), run.out());

        Run shorter = wush("eval", "--model", "stories260K", "--data", text.toString(), "--json", "--window", "128", "--batch", "3",
                "--threads", "2");
        assertEquals(0, shorter.code(), shorter.err());
        JsonObject j2 = JsonParser.parseString(shorter.lines().getLast()).getAsJsonObject();
        assertEquals(0, j2.get("tokens").getAsLong() % 127);
    }

    @Test
    void generateContinuesThePrompt() {
        Run run = wush("generate", "--model", "stories260K", "--prompt", "Once upon a time", "--max-tokens", "20");
        assertEquals(0, run.code(), run.err());
        assertTrue(run.out().startsWith("Once upon a time, there was"), run.out());
        assertTrue(run.err().contains("20 generated"), run.err());

        Run sampled = wush("generate", "--model", "stories260K", "--prompt", "Lily", "--max-tokens", "15",
                "--temperature", "0.9", "--top-p", "0.9", "--seed", "3");
        Run again = wush("generate", "--model", "stories260K", "--prompt", "Lily", "--max-tokens", "15",
                "--temperature", "0.9", "--top-p", "0.9", "--seed", "3");
        assertEquals(sampled.out(), again.out());
    }

    @Test
    void layerReportPrintsTheTableAndJson() {
        Run run = wush("layer-report", "--model", "stories260K", "--calib", text.toString(), "--block", "1",
                "--calib-windows", "4", "--formats", "mxfp4,nvfp4", "--transforms", "identity,wush", "--json");
        assertEquals(0, run.code(), run.err());
        JsonObject layers = JsonParser.parseString(run.lines().getLast()).getAsJsonObject().getAsJsonObject("layers");
        assertEquals(List.of("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"), List.copyOf(layers.keySet()));
        JsonObject q = layers.getAsJsonObject("self_attn.q_proj");
        assertEquals(List.of("MXFP4/identity", "MXFP4/wush", "NVFP4/identity", "NVFP4/wush"), List.copyOf(q.keySet()));
        double e = q.get("MXFP4/wush").getAsDouble();
        assertTrue(e > 0 && e < 0.1, "error " + e);
        assertTrue(run.out().contains("1024 calibration tokens (4 windows of 256)"), run.out());
    }

    @Test
    void layerReportBadInput() {
        Run tooLong = wush("layer-report", "--model", "stories260K", "--calib", text.toString(), "--block", "2", "--window", "100000");
        assertEquals(2, tooLong.code());
        assertOneLine(tooLong, "longer than the model's context");
        Run block = wush("layer-report", "--model", "stories260K", "--calib", text.toString(), "--block", "5", "--calib-windows", "1");
        assertEquals(2, block.code());
        assertOneLine(block, "0..4");
        Run format = wush("layer-report", "--model", "stories260K", "--calib", text.toString(), "--block", "2", "--formats", "fp6");
        assertEquals(2, format.code());
        assertOneLine(format, "fp6");
        Run transform = wush("layer-report", "--model", "stories260K", "--calib", text.toString(), "--block", "2", "--transforms", "qr");
        assertEquals(2, transform.code());
        assertOneLine(transform, "qr");
        Run missing = wush("layer-report", "--model", "stories260K", "--calib", tmp.resolve("nope.txt").toString(), "--block", "2");
        assertEquals(1, missing.code());
        assertOneLine(missing, "nope.txt");
    }

    @Test
    void quantizeSavesACheckpointThatEvalLoads() throws Exception {
        Path out = tmp.resolve("q-cli");
        String[] args = {"quantize", "--model", "stories260K", "--calib", text.toString(), "--calib-tokens", "1000", "--out",
            out.toString(), "--format", "nvfp4", "--method", "rtn", "--transform", "adaptive:kurtosis", "--calib-hidden", "bf16", "--json"};
        Run q = wush(args);
        assertEquals(0, q.code(), q.err());
        JsonObject report = JsonParser.parseString(q.lines().getLast()).getAsJsonObject();
        assertEquals(35, report.getAsJsonArray("layers").size());
        assertTrue(report.getAsJsonArray("layers").get(0).getAsJsonObject().get("reason").getAsString().contains("kurtosis"));
        assertTrue(report.get("bits_per_weight").getAsDouble() >= 4.5);
        assertEquals("bf16", report.get("calibration_hidden").getAsString());
        assertEquals(4 * 256, report.get("calibration_tokens").getAsLong(), "--calib-tokens 1000: four windows of 256");
        assertTrue(q.err().contains("note: the first of 5 decoder blocks took"), q.err());
        assertTrue(q.out().contains("model.layers.4.mlp.down_proj"), q.out());
        assertTrue(Files.isRegularFile(out.resolve("report.json")) && Files.isRegularFile(out.resolve("config.json")));

        Run again = wush(args);
        assertEquals(2, again.code());
        assertOneLine(again, "--overwrite");
        String[] overwrite = java.util.Arrays.copyOf(args, args.length + 1);
        overwrite[args.length] = "--overwrite";
        assertEquals(0, wush(overwrite).code());

        Run eval = wush("eval", "--model", out.toString(), "--data", text.toString(), "--json");
        assertEquals(0, eval.code(), eval.err());
        double ppl = JsonParser.parseString(eval.lines().getLast()).getAsJsonObject().get("ppl").getAsDouble();
        assertTrue(ppl > 4 && ppl < 12, "quantized ppl " + ppl);

        Run shortCalib = wush("quantize", "--model", "stories260K", "--calib", tiny.toString(), "--window", "512",
                "--out", tmp.resolve("never").toString());
        assertEquals(2, shortCalib.code());
        assertOneLine(shortCalib, "fewer than one window");
        assertTrue(!Files.exists(tmp.resolve("never")));
        Run badTransform = wush("quantize", "--model", "stories260K", "--calib", text.toString(), "--transform", "adaptive:magic",
                "--out", tmp.resolve("never").toString());
        assertEquals(2, badTransform.code());
        assertOneLine(badTransform, "magic");
        Run both = wush("quantize", "--model", "stories260K", "--calib", text.toString(), "--calib-windows", "4", "--calib-tokens", "100",
                "--out", tmp.resolve("never").toString());
        assertEquals(2, both.code());
        assertOneLine(both, "--calib-tokens");
        Run badHidden = wush("quantize", "--model", "stories260K", "--calib", text.toString(), "--calib-hidden", "int8",
                "--out", tmp.resolve("never").toString());
        assertEquals(2, badHidden.code());
        assertOneLine(badHidden, "--calib-hidden int8");
        Run badThreads = wush("eval", "--model", "stories260K", "--data", text.toString(), "--threads", "0");
        assertEquals(2, badThreads.code());
        assertOneLine(badThreads, "--threads must be at least 1, got 0");
        assertTrue(!Files.exists(tmp.resolve("never")));
    }

    @Test
    void badInputGivesOneClearLine() {
        Run noFile = wush("eval", "--model", "stories260K", "--data", tmp.resolve("missing.txt").toString());
        assertEquals(1, noFile.code());
        assertOneLine(noFile, "missing.txt");

        Run noModel = wush("eval", "--model", "no-such-model", "--data", text.toString());
        assertEquals(2, noModel.code());
        assertOneLine(noModel, "no-such-model");

        Run badWindow = wush("eval", "--model", "stories260K", "--data", text.toString(), "--window", "1");
        assertEquals(2, badWindow.code());
        assertOneLine(badWindow, "--window");

        Run badTopP = wush("generate", "--model", "stories260K", "--prompt", "x", "--top-p", "1.5");
        assertEquals(2, badTopP.code());
        assertOneLine(badTopP, "--top-p");

        Run tooShort = wush("eval", "--model", "stories260K", "--data", tiny.toString(), "--window", "512");
        assertEquals(2, tooShort.code());
        assertOneLine(tooShort, "fewer than one window");

        Run badShape = wush("bench-quant", "--shape", "4096by4096");
        assertEquals(2, badShape.code());
        assertOneLine(badShape, "--shape");

        Run missingOption = wush("eval", "--data", text.toString());
        assertEquals(2, missingOption.code());
        assertTrue(missingOption.err().contains("--model"), missingOption.err());
    }

    private static void assertOneLine(Run run, String mentions) {
        SafetyTest.assertOneLine(run, mentions);
    }
}
