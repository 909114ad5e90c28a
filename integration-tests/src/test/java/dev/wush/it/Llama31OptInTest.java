package dev.wush.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import dev.wush.io.SafeTensorsCheckpoint;
import dev.wush.translators.Perplexity;
import dev.wush.translators.PerplexityEvaluator;
import dev.wush.translators.TextTokenizer;
import dev.wush.translators.TokenWindows;
import dev.wush.translators.WindowLosses;
import dev.wush.zoo.LlamaModelLoader;
import dev.wush.zoo.WushModelZoo;
import dev.wush.zoo.llama.LlamaConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Opt-in: {@code WUSH_LLAMA31_8B=/path/to/Llama-3.1-8B-Instruct} (the Hugging Face directory: bf16,
 * sharded, llama3 rope scaling). Loads it through Criteria, scores the first windows of WikiText-2 and
 * generates. {@code WUSH_LLAMA31_DTYPE} picks float32 (about 34 GB of memory) or float16 (the
 * default, about 17 GB). Without the variable the test is reported as skipped, with the reason.
 */
class Llama31OptInTest {

    @Test
    void loadsEvaluatesAndGenerates() throws Exception {
        String dir = System.getenv("WUSH_LLAMA31_8B");
        Assumptions.assumeTrue(dir != null && !dir.isBlank(),
                "set WUSH_LLAMA31_8B=/path/to/Llama-3.1-8B-Instruct to run the Llama-3.1-8B test");
        Path model = Path.of(dir);
        LlamaConfig config = LlamaConfig.load(model);
        assertNotNull(config.ropeScaling(), "Llama 3.1 uses llama3 rope scaling");
        assertTrue(Files.isRegularFile(model.resolve(SafeTensorsCheckpoint.INDEX_FILE)), "sharded checkpoint");
        String dtype = System.getenv().getOrDefault("WUSH_LLAMA31_DTYPE", "float16");

        Criteria<TokenWindows, WindowLosses> criteria = Criteria.builder()
                .setTypes(TokenWindows.class, WindowLosses.class)
                .optGroupId(WushModelZoo.GROUP_ID).optArtifactId(WushModelZoo.ANY_LLAMA)
                .optArgument("model", dir).optArgument("dtype", dtype)
                .build();
        try (ZooModel<TokenWindows, WindowLosses> zoo = criteria.loadModel();
                TextTokenizer tokenizer = LlamaModelLoader.tokenizer(zoo);
                Predictor<TokenWindows, WindowLosses> predictor = zoo.newPredictor()) {
            long[] ids = tokenizer.encodeWithBos(Files.readString(Shared.WIKITEXT_TEST));
            assertEquals(128000, ids[0]);
            long[] head = java.util.Arrays.copyOf(ids, 256 * 8);
            Perplexity p = new PerplexityEvaluator(256, 1).evaluate(predictor, head, done -> {});
            System.out.printf("Llama-3.1-8B-Instruct (%s): WikiText-2 first 8 windows ppl %.3f, %.1f tokens/s%n",
                    dtype, p.ppl(), p.tokensPerSecond(256));
            assertTrue(p.ppl() > 1 && p.ppl() < 30, "ppl " + p.ppl());
        }

        Criteria<String, String> generation = Criteria.builder()
                .setTypes(String.class, String.class)
                .optGroupId(WushModelZoo.GROUP_ID).optArtifactId(WushModelZoo.ANY_LLAMA)
                .optArgument("model", dir).optArgument("dtype", dtype).optArgument("maxNewTokens", 8)
                .build();
        try (ZooModel<String, String> zoo = generation.loadModel(); Predictor<String, String> g = zoo.newPredictor()) {
            String answer = g.predict("The capital of France is");
            System.out.println("Llama-3.1-8B-Instruct: The capital of France is" + answer);
            assertTrue(answer.contains("Paris"), answer);
        }
    }
}
