package dev.wush.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.ParameterStore;
import dev.wush.translators.GenerationConfig;
import dev.wush.translators.TextGenerator;
import dev.wush.translators.TextTokenizer;
import dev.wush.zoo.LlamaModelLoader;
import dev.wush.zoo.WushModelZoo;
import dev.wush.zoo.llama.LlamaForCausalLM;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Greedy generation through DJL (KV cache, float32) against {@link ReferenceLlama}, an independent
 * double-precision forward pass without cache: the same tokens, one for one.
 */
class GreedyGenerationTest {

    static final int NEW_TOKENS = 48;

    @ParameterizedTest
    @ValueSource(strings = {"stories260K", "babyllama105"})
    void matchesAnIndependentDoublePrecisionForward(String name) throws Exception {
        Criteria<String, String> criteria = Criteria.builder()
                .setTypes(String.class, String.class)
                .optGroupId(WushModelZoo.GROUP_ID)
                .optArtifactId(name)
                .optArgument("maxNewTokens", NEW_TOKENS)
                .build();
        ReferenceLlama reference = new ReferenceLlama(Shared.model(name));
        try (ZooModel<String, String> zoo = criteria.loadModel();
                TextTokenizer tokenizer = LlamaModelLoader.tokenizer(zoo);
                NDManager manager = zoo.getNDManager().newSubManager();
                Predictor<String, String> predictor = zoo.newPredictor()) {
            LlamaForCausalLM lm = (LlamaForCausalLM) zoo.getBlock();
            long[] prompt = tokenizer.encodeWithBos("Once upon a time");
            assertEquals(tokenizer.bosId(), prompt[0]);

            // logits of the prompt agree closely
            NDList out = lm.forward(new ParameterStore(manager, false), new NDList(manager.create(new long[][] {prompt})), false);
            NDArray last = out.head().get("0, -1, :");
            double[] expected = reference.nextLogits(prompt);
            float[] actual = last.toFloatArray();
            for (int i = 0; i < expected.length; i++) {
                assertEquals(expected[i], actual[i], 1e-3 * Math.max(1, Math.abs(expected[i])), "logit " + i);
            }

            // greedy continuation: token for token
            long[] want = reference.greedy(prompt, NEW_TOKENS, lm.config().eosTokenIds().get(0));
            TextGenerator generator = new TextGenerator(lm, GenerationConfig.greedy(NEW_TOKENS), tokenizer.eosIds(),
                    lm.config().maxPositionEmbeddings());
            long[] got = generator.generate(manager, prompt, id -> {});
            assertArrayEquals(want, got, "generated " + tokenizer.decode(got) + "\nexpected " + tokenizer.decode(want));
            assertTrue(got.length > 10);

            // the Criteria predictor (String → String) gives the same text
            assertEquals(tokenizer.decodeContinuation(prompt, want), predictor.predict("Once upon a time"));
        }
    }
}
