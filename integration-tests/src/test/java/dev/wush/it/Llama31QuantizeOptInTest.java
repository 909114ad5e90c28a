package dev.wush.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import dev.wush.cli.WushCli;
import dev.wush.translators.Perplexity;
import dev.wush.translators.PerplexityEvaluator;
import dev.wush.translators.TextTokenizer;
import dev.wush.translators.TokenWindows;
import dev.wush.translators.WindowLosses;
import dev.wush.zoo.LlamaModelLoader;
import dev.wush.zoo.WushModelZoo;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Opt-in: {@code WUSH_LLAMA31_8B=/path/to/Llama-3.1-8B-Instruct} quantizes the real model end to end
 * with {@code wush quantize} (MXFP4, GPTQ, WUSH, 128 windows of 256 calibration tokens; it needs a large
 * machine: about 34 GB for the float32 weights plus one block's Hessians), reloads the saved checkpoint
 * through Criteria and scores the first 8 windows of WikiText-2. {@code WUSH_LLAMA31_METHOD} may pick
 * rtn for a faster run. Without the variable the test is reported as skipped, with the reason.
 */
class Llama31QuantizeOptInTest {

    @TempDir
    Path tmp;

    @Test
    void quantizesSavesReloadsAndEvaluates() throws Exception {
        String dir = System.getenv("WUSH_LLAMA31_8B");
        Assumptions.assumeTrue(dir != null && !dir.isBlank(),
                "set WUSH_LLAMA31_8B=/path/to/Llama-3.1-8B-Instruct to quantize Llama-3.1-8B end to end");
        Path out = tmp.resolve("llama31-mxfp4-wush");
        String method = System.getenv().getOrDefault("WUSH_LLAMA31_METHOD", "gptq");
        int code = WushCli.run("quantize", "--model", dir, "--calib", Shared.DIR.resolve("data/tinystories/calib.txt").toString(),
                "--out", out.toString(), "--format", "mxfp4", "--method", method, "--transform", "wush");
        assertTrue(code == 0, "wush quantize exited with " + code);
        Criteria<TokenWindows, WindowLosses> criteria = Criteria.builder()
                .setTypes(TokenWindows.class, WindowLosses.class)
                .optGroupId(WushModelZoo.GROUP_ID).optArtifactId(WushModelZoo.ANY_LLAMA)
                .optArgument("model", out.toString())
                .build();
        try (ZooModel<TokenWindows, WindowLosses> zoo = criteria.loadModel();
                TextTokenizer tokenizer = LlamaModelLoader.tokenizer(zoo);
                Predictor<TokenWindows, WindowLosses> predictor = zoo.newPredictor()) {
            long[] ids = java.util.Arrays.copyOf(tokenizer.encodeWithBos(Files.readString(Shared.WIKITEXT_TEST)), 256 * 8);
            Perplexity p = new PerplexityEvaluator(256, 1).evaluate(predictor, ids, done -> {});
            System.out.printf("Llama-3.1-8B-Instruct MXFP4 %s WUSH: WikiText-2 first 8 windows ppl %.3f%n", method, p.ppl());
            assertTrue(p.ppl() > 1 && p.ppl() < 40, "ppl " + p.ppl());
        }
    }
}
