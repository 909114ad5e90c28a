package dev.wush.it;

import static dev.wush.it.CliTest.wush;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.util.Progress;
import dev.wush.nn.BlockPaths;
import dev.wush.quant.block.WushLinear;
import dev.wush.translators.TokenWindows;
import dev.wush.translators.WindowLosses;
import dev.wush.zoo.LlamaBlockFactory;
import dev.wush.zoo.LlamaTranslatorFactory;
import dev.wush.zoo.WushModelZoo;
import dev.wush.zoo.hub.FakeHub;
import dev.wush.zoo.llama.LlamaForCausalLM;
import dev.wush.zoo.llama.QuantizedCheckpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading the DJL way: {@code optModelPath}, {@code optModelUrls("hf://…")}, {@code optDevice}, {@code optProgress}. */
class DjlLoadingTest {

    static final long[][] WINDOWS = {{1, 40, 5, 9, 4, 3, 6, 8}, {1, 27, 8, 4, 3, 5, 9, 11}};

    @TempDir
    Path tmp;

    static float[] nll(Criteria<TokenWindows, WindowLosses> criteria) throws Exception {
        try (ZooModel<TokenWindows, WindowLosses> model = criteria.loadModel();
                Predictor<TokenWindows, WindowLosses> predictor = model.newPredictor()) {
            assertTrue(model.getBlock() instanceof LlamaForCausalLM);
            double[] nll = predictor.predict(new TokenWindows(WINDOWS)).nll();
            float[] out = new float[nll.length];
            for (int i = 0; i < nll.length; i++) {
                out[i] = (float) nll[i];
            }
            return out;
        }
    }

    static Criteria<TokenWindows, WindowLosses> byZoo(Path dir) {
        return Criteria.builder().setTypes(TokenWindows.class, WindowLosses.class)
                .optGroupId(WushModelZoo.GROUP_ID).optArtifactId(WushModelZoo.ANY_LLAMA)
                .optArgument("model", dir.toString()).build();
    }

    @Test
    void aQuantizedCheckpointLoadsThroughOptModelPathWithItsServingProperties() throws Exception {
        Path q = tmp.resolve("q");
        CliTest.Run run = wush("quantize", "--model", "stories260K", "--calib", Shared.TINYSTORIES_EVAL.toString(), "--calib-windows", "2",
                "--method", "rtn", "--transform", "hadamard", "--out", q.toString());
        assertEquals(0, run.code(), run.err());
        assertEquals(QuantizedCheckpoint.SERVING_PROPERTIES, Files.readString(q.resolve(QuantizedCheckpoint.SERVING_FILE)));
        assertTrue(QuantizedCheckpoint.SERVING_PROPERTIES.contains("blockFactory=" + LlamaBlockFactory.class.getName() + "\n"));

        // DJL chooses the translator before it reads serving.properties, so the criteria name it
        Criteria<TokenWindows, WindowLosses> plain = Criteria.builder().setTypes(TokenWindows.class, WindowLosses.class)
                .optModelPath(q).optTranslatorFactory(new LlamaTranslatorFactory()).build();
        try (ZooModel<TokenWindows, WindowLosses> model = plain.loadModel()) {
            assertTrue(BlockPaths.find(model.getBlock(), "model.layers.0.mlp.down_proj") instanceof WushLinear);
        }
        assertArrayEquals(nll(byZoo(q)), nll(plain));
    }

    @Test
    void anyCheckpointDirectoryLoadsWithTheBlockFactoryCriteria() throws Exception {
        Path dir = Shared.model("babyllama105");
        assertArrayEquals(nll(byZoo(dir)), nll(LlamaBlockFactory.criteria(TokenWindows.class, WindowLosses.class).optModelPath(dir).build()));
        Criteria<String, String> generation = LlamaBlockFactory.criteria(String.class, String.class)
                .optModelPath(Shared.model("stories260K")).optArgument("maxNewTokens", 6).build();
        try (ZooModel<String, String> model = generation.loadModel(); Predictor<String, String> p = model.newPredictor()) {
            assertTrue(p.predict("Once upon a time").length() > 0);
        }
    }

    /** DJL's {@link Progress}, recorded. */
    static final class Recorder implements Progress {
        final List<String> events = Collections.synchronizedList(new ArrayList<>());

        @Override
        public void reset(String message, long max, String trailingMessage) {
            events.add("reset " + message + " " + max);
        }

        @Override
        public void start(long initialProgress) {
            events.add("start " + initialProgress);
        }

        @Override
        public void end() {
            events.add("end");
        }

        @Override
        public void increment(long increment) {
            events.add("increment " + increment);
        }

        @Override
        public void update(long progress, String message) {
            events.add("update " + progress + (message == null ? "" : " " + message));
        }
    }

    @Test
    void hfUrlsDownloadThroughDjlWithProgressAndQuantizeOnLoad() throws Exception {
        try (FakeHub hub = new FakeHub()) {
            String commit = "c0ffee".repeat(6) + "0123";
            hub.addModelDir("karpathy/stories260K-hf", commit, Shared.model("stories260K"), "hf_token_9");
            System.setProperty("HF_ENDPOINT", hub.endpoint().toString());
            System.setProperty("HF_HOME", tmp.resolve("hf").toString());
            System.setProperty("HF_TOKEN", "hf_token_9");
            Recorder download = new Recorder();
            Criteria<TokenWindows, WindowLosses> remote = Criteria.builder().setTypes(TokenWindows.class, WindowLosses.class)
                    .optModelUrls("hf://karpathy/stories260K-hf").optProgress(download).build();
            assertArrayEquals(nll(byZoo(Shared.model("stories260K"))), nll(remote), "the same model as the local copy");
            assertTrue(download.events.contains("reset Downloading model.safetensors " + Files.size(Shared.model("stories260K")
                    .resolve("model.safetensors"))), download.events.toString());
            assertTrue(download.events.stream().anyMatch(e -> e.startsWith("increment ")), download.events.toString());
            assertTrue(Files.isDirectory(tmp.resolve("hf/hub/models--karpathy--stories260K-hf/snapshots/" + commit)));

            Recorder quantizing = new Recorder();
            Criteria<TokenWindows, WindowLosses> quantized = Criteria.builder().setTypes(TokenWindows.class, WindowLosses.class)
                    .optModelUrls("hf://karpathy/stories260K-hf@" + commit).optProgress(quantizing)
                    .optArgument("quantization", "wush:mxfp4").optArgument("calibration", Shared.TINYSTORIES_EVAL.toString())
                    .optArgument("calibWindows", 2).optArgument("method", "rtn").build();
            try (ZooModel<TokenWindows, WindowLosses> model = quantized.loadModel()) {
                assertTrue(BlockPaths.find(model.getBlock(), "model.layers.4.self_attn.q_proj") instanceof WushLinear);
            }
            assertTrue(quantizing.events.contains("reset Quantizing " + commit + " 5"), quantizing.events.toString());
            assertTrue(quantizing.events.contains("update 5 block 5/5"), quantizing.events.toString());

            IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> Criteria.builder()
                    .setTypes(TokenWindows.class, WindowLosses.class).optModelUrls("hf://just-a-name").build().loadModel());
            assertTrue(bad.getMessage().contains("hf://owner/name"), bad.getMessage());
        } finally {
            for (String name : List.of("HF_ENDPOINT", "HF_HOME", "HF_TOKEN")) {
                System.clearProperty(name);
            }
        }
    }

    @Test
    void aGpuDeviceWithoutCudaIsAClearError() {
        if (ai.djl.engine.Engine.getEngine("PyTorch").getGpuCount() > 0) {
            return; // the GPU path is exercised where the engine has CUDA
        }
        Criteria<TokenWindows, WindowLosses> gpu = LlamaBlockFactory.criteria(TokenWindows.class, WindowLosses.class)
                .optModelPath(Shared.model("stories260K")).optDevice(Device.gpu()).build();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, gpu::loadModel);
        assertTrue(e.getMessage().contains("gpu(0)") && e.getMessage().contains("0 GPU"), e.getMessage());
        Criteria<TokenWindows, WindowLosses> zoo = Criteria.builder().setTypes(TokenWindows.class, WindowLosses.class)
                .optGroupId(WushModelZoo.GROUP_ID).optArtifactId("stories260K").optDevice(Device.gpu()).build();
        e = assertThrows(IllegalArgumentException.class, zoo::loadModel);
        assertTrue(e.getMessage().contains("0 GPU"), e.getMessage());
    }
}
