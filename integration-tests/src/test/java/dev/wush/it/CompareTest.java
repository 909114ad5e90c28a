package dev.wush.it;

import static dev.wush.it.CliTest.wush;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code wush compare}: the same numbers as quantize + eval one by one, a report with plots, the output rules. */
class CompareTest {

    @TempDir
    Path tmp;

    static double ppl(CliTest.Run run) {
        return JsonParser.parseString(run.lines().getLast()).getAsJsonObject().get("ppl").getAsDouble();
    }

    @Test
    void compareReportsWhatQuantizeAndEvalGiveOneByOne() throws Exception {
        Path data = tmp.resolve("small.txt");
        Files.writeString(data, Files.readString(Shared.TINYSTORIES_EVAL).substring(0, 20_000));
        Path piqa = tmp.resolve("piqa.jsonl");
        Files.writeString(piqa, """
                {"goal": "To make the dog happy", "sol1": "give it a bone", "sol2": "give it a rock", "label": 0}
                {"goal": "To dry a towel", "sol1": "put it in water", "sol2": "hang it in the sun", "label": 1}
                """);
        Path calib = Shared.DIR.resolve("data/tinystories/calib.txt");
        Path out = tmp.resolve("report");
        String[] args = {"compare", "--model", "stories260K", "--calib", calib.toString(), "--calib-windows", "4", "--data", data.toString(),
            "--configs", "mxfp4:rtn:identity,nvfp4:rtn:adaptive:kurtosis", "--task", "piqa=" + piqa, "--out", out.toString(), "--json"};
        CliTest.Run run = wush(args);
        assertEquals(0, run.code(), run.err());
        JsonArray runs = JsonParser.parseString(run.lines().getLast()).getAsJsonObject().getAsJsonArray("runs");
        assertEquals(List.of("fp32", "mxfp4:rtn:identity", "nvfp4:rtn:adaptive:kurtosis"),
                runs.asList().stream().map(r -> r.getAsJsonObject().get("config").getAsString()).toList());

        CliTest.Run fp32 = wush("eval", "--model", "stories260K", "--data", data.toString(), "--json");
        assertEquals(ppl(fp32), runs.get(0).getAsJsonObject().get("perplexity").getAsDouble(), 1e-12, "fp32 baseline");
        Path q = tmp.resolve("q");
        CliTest.Run quantize = wush("quantize", "--model", "stories260K", "--calib", calib.toString(), "--calib-windows", "4",
                "--format", "mxfp4", "--method", "rtn", "--transform", "identity", "--out", q.toString());
        assertEquals(0, quantize.code(), quantize.err());
        CliTest.Run eval = wush("eval", "--model", q.toString(), "--data", data.toString(), "--json");
        JsonObject identity = runs.get(1).getAsJsonObject();
        assertEquals(ppl(eval), identity.get("perplexity").getAsDouble(), 1e-12, "the same as quantize, then eval");
        assertEquals(4.37, identity.get("bits_per_weight").getAsDouble(), 0.005); // 4.25, and the padding of 172 inputs to 192
        assertTrue(identity.getAsJsonObject("acc").has("piqa"));

        String report = Files.readString(out.resolve("report.md"));
        assertTrue(report.startsWith("<!-- written by wush compare -->"), report);
        assertTrue(report.contains("| mxfp4:rtn:identity | " + String.format(java.util.Locale.ROOT, "%.4f", ppl(eval)) + " |"), report);
        for (String png : List.of("perplexity.png", "layer-error.png", "choice-1.png")) {
            byte[] bytes = Files.readAllBytes(out.resolve(png));
            assertTrue(bytes.length > 5_000, png);
            assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, Arrays.copyOf(bytes, 4), png);
            assertTrue(report.contains("](" + png + ")"), png + " is embedded");
        }

        CliTest.Run again = wush(args);
        assertEquals(2, again.code(), "an existing report is not replaced without --overwrite");
        String[] overwrite = Arrays.copyOf(args, args.length + 1);
        overwrite[args.length] = "--overwrite";
        Files.writeString(out.resolve("notes.txt"), "mine");
        CliTest.Run foreign = wush(overwrite);
        assertTrue(foreign.code() != 0 && foreign.err().contains("notes.txt"), foreign.err());
        assertTrue(Files.exists(out.resolve("notes.txt")), "the user's file is still there");

        CliTest.Run badConfig = wush("compare", "--model", "stories260K", "--calib", calib.toString(), "--data", data.toString(),
                "--configs", "mxfp4:rtn", "--out", tmp.resolve("never").toString());
        assertEquals(2, badConfig.code());
        assertTrue(badConfig.err().contains("format:method:transform"), badConfig.err());
        assertTrue(!Files.exists(tmp.resolve("never")));
    }
}
