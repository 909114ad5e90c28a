package dev.wush.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import dev.wush.translators.Perplexity;
import dev.wush.translators.PerplexityEvaluator;
import dev.wush.translators.TextTokenizer;
import dev.wush.translators.TokenWindows;
import dev.wush.translators.WindowLosses;
import dev.wush.zoo.LlamaModelLoader;
import dev.wush.zoo.WushModelZoo;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The FP32 perplexities of ../shared/models/REFERENCE.md, to 4 significant digits, through DJL's Criteria. */
class ReferencePerplexityTest {

    @ParameterizedTest(name = "{0} on {1}: ppl {2}")
    @CsvSource({
        "stories260K,  data/tinystories/eval.txt,       5.7248,  237660",
        "stories260K,  data/wikitext-2-raw/wiki.test.raw, 112.736, -1",
        "babyllama105, data/tinystories/eval.txt,       2.5071,  471240",
        "babyllama105, data/wikitext-2-raw/wiki.test.raw, 24.495,  -1",
    })
    void reproducesTheReference(String model, String data, double reference, long referenceTokens) throws Exception {
        Criteria<TokenWindows, WindowLosses> criteria = Criteria.builder()
                .setTypes(TokenWindows.class, WindowLosses.class)
                .optGroupId(WushModelZoo.GROUP_ID)
                .optArtifactId(model)
                .build();
        try (ZooModel<TokenWindows, WindowLosses> zoo = criteria.loadModel();
                TextTokenizer tokenizer = LlamaModelLoader.tokenizer(zoo);
                Predictor<TokenWindows, WindowLosses> predictor = zoo.newPredictor()) {
            String text = Files.readString(Shared.DIR.resolve(Path.of(data)));
            Perplexity result = new PerplexityEvaluator(256, 4).evaluate(predictor, tokenizer, text);
            // 4 significant digits: at most half a unit in the 4th digit, i.e. ≤ 5e-4 relative at worst
            assertEquals(reference, result.ppl(), reference * 1e-4, "perplexity of " + model + " on " + data);
            if (referenceTokens > 0) {
                assertEquals(referenceTokens, result.tokens(), "predicted tokens");
            }
        }
    }
}
