package dev.wush.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Application;
import ai.djl.MalformedModelException;
import ai.djl.inference.Predictor;
import ai.djl.repository.MRL;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ModelZoo;
import ai.djl.repository.zoo.ZooModel;
import dev.wush.kernel.KernelThreads;
import dev.wush.translators.TokenWindows;
import dev.wush.translators.WindowLosses;
import dev.wush.zoo.WushModelZoo;
import dev.wush.zoo.llama.LlamaForCausalLM;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading through DJL's Criteria: zoo entries, any directory, listing, clear failures. */
class CriteriaTest {

    @Test
    void zooListsTheKnownModels() {
        Map<Application, List<MRL>> models = ModelZoo.listModels(Criteria.builder()
                .setTypes(String.class, String.class).optGroupId(WushModelZoo.GROUP_ID).build());
        List<String> ids = models.get(Application.NLP.TEXT_GENERATION).stream().map(MRL::getArtifactId).toList();
        assertTrue(ids.containsAll(List.of("stories260K", "babyllama105", "smollm2-135m", "llama-3.2-1b-instruct",
                "llama-3.2-3b-instruct", "llama-3.1-8b-instruct", "llama")), ids.toString());
    }

    @Test
    void anyDirectoryThroughTheModelArgument() throws Exception {
        Criteria<TokenWindows, WindowLosses> criteria = Criteria.builder()
                .setTypes(TokenWindows.class, WindowLosses.class)
                .optGroupId(WushModelZoo.GROUP_ID)
                .optArtifactId(WushModelZoo.ANY_LLAMA)
                .optArgument("model", Shared.model("babyllama105").toString())
                .build();
        try (ZooModel<TokenWindows, WindowLosses> zoo = criteria.loadModel();
                Predictor<TokenWindows, WindowLosses> predictor = zoo.newPredictor()) {
            assertTrue(zoo.getBlock() instanceof LlamaForCausalLM);
            long[][] windows = {{1, 40, 5, 9, 4, 3, 6, 8}, {1, 27, 8, 4, 3, 5, 9, 11}};
            WindowLosses losses = predictor.predict(new TokenWindows(windows));
            assertEquals(2, losses.nll().length);
            assertEquals(7, losses.predictedPerWindow());
            assertTrue(losses.nll()[0] > 0 && Double.isFinite(losses.nll()[0]));
        }
    }

    @Test
    void generationArgumentsReachTheTranslator() throws Exception {
        Criteria<String, String> criteria = Criteria.builder()
                .setTypes(String.class, String.class)
                .optGroupId(WushModelZoo.GROUP_ID)
                .optArtifactId("stories260K")
                .optArgument("maxNewTokens", 5)
                .optArgument("temperature", 0.8)
                .optArgument("topP", 0.9)
                .optArgument("seed", 7)
                .build();
        try (ZooModel<String, String> zoo = criteria.loadModel();
                Predictor<String, String> predictor = zoo.newPredictor()) {
            String a = predictor.predict("Once upon a time");
            String b = predictor.predict("Once upon a time");
            assertEquals(a, b, "the same seed samples the same text");
            assertTrue(a.split(" ").length <= 6, a);
        }
    }

    @Test
    void quantizesOnLoad(@TempDir Path dir) throws Exception {
        Path calib = dir.resolve("calib.txt");
        Files.writeString(calib, Files.readString(Shared.DIR.resolve("data/tinystories/calib.txt")).substring(0, 20_000));
        Criteria<TokenWindows, WindowLosses> criteria = Criteria.builder()
                .setTypes(TokenWindows.class, WindowLosses.class)
                .optGroupId(WushModelZoo.GROUP_ID).optArtifactId("stories260K")
                .optArgument("quantization", "wush:mxfp4")
                .optArgument("calibration", calib.toString())
                .optArgument("calibWindows", 2)
                .optArgument("method", "rtn")
                .optArgument("calibHidden", "bf16")
                .build();
        try (ZooModel<TokenWindows, WindowLosses> zoo = criteria.loadModel()) {
            assertTrue(dev.wush.nn.BlockPaths.find(zoo.getBlock(), "model.layers.0.self_attn.q_proj")
                    instanceof dev.wush.quant.block.WushLinear);
        }
        Criteria<TokenWindows, WindowLosses> noCalibration = Criteria.builder()
                .setTypes(TokenWindows.class, WindowLosses.class)
                .optGroupId(WushModelZoo.GROUP_ID).optArtifactId("stories260K")
                .optArgument("quantization", "wush:mxfp4").build();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, noCalibration::loadModel);
        assertTrue(e.getMessage().contains("calibration"), e.getMessage());
    }

    @Test
    void clearErrors(@TempDir Path empty) throws Exception {
        Criteria<String, String> noModel = Criteria.builder().setTypes(String.class, String.class)
                .optGroupId(WushModelZoo.GROUP_ID).optArtifactId(WushModelZoo.ANY_LLAMA).build();
        ModelNotFoundException e = assertThrows(ModelNotFoundException.class, noModel::loadModel);
        assertTrue(e.getMessage().contains("model"), e.getMessage());

        Files.writeString(empty.resolve("config.json"), Files.readString(Shared.model("stories260K").resolve("config.json")));
        Criteria<String, String> noWeights = Criteria.builder().setTypes(String.class, String.class)
                .optGroupId(WushModelZoo.GROUP_ID).optArtifactId(WushModelZoo.ANY_LLAMA)
                .optArgument("model", empty.toString()).build();
        MalformedModelException m = assertThrows(MalformedModelException.class, noWeights::loadModel);
        assertTrue(m.getMessage().contains("model.safetensors"), m.getMessage());

        Criteria<String, String> badDtype = Criteria.builder().setTypes(String.class, String.class)
                .optGroupId(WushModelZoo.GROUP_ID).optArtifactId("stories260K").optArgument("dtype", "bfloat16").build();
        IllegalArgumentException d = assertThrows(IllegalArgumentException.class, badDtype::loadModel);
        assertTrue(d.getMessage().contains("bfloat16"), d.getMessage());

        Criteria<String, String> badThreads = Criteria.builder().setTypes(String.class, String.class)
                .optGroupId(WushModelZoo.GROUP_ID).optArtifactId("stories260K").optArgument("threads", "0").build();
        IllegalArgumentException t = assertThrows(IllegalArgumentException.class, badThreads::loadModel);
        assertEquals("threads '0': a whole number of at least 1", t.getMessage());
    }

    @Test
    void theThreadsArgumentSetsTheBudgetOfTheEngineAndTheKernels() throws Exception {
        int before = KernelThreads.threads();
        Criteria<String, String> two = Criteria.builder().setTypes(String.class, String.class)
                .optGroupId(WushModelZoo.GROUP_ID).optArtifactId("stories260K").optArgument("threads", 2).build();
        try (ZooModel<String, String> model = two.loadModel()) {
            assertEquals(2, KernelThreads.threads());
            assertEquals(2, ai.djl.pytorch.jni.JniUtils.getNumThreads());
        } finally {
            KernelThreads.set(before);
        }
    }
}
