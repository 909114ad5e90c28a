package dev.wush.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.ParameterStore;
import dev.wush.zoo.WushModelZoo;
import dev.wush.zoo.llama.LlamaForCausalLM;
import dev.wush.nn.BlockPaths;
import dev.wush.quant.block.WushLinear;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Decoding with the key/value cache (the fused native attention, and the engine's operations under
 * {@code -Dwush.attention=engine}) gives the logits of a full pass over the whole sequence without cache,
 * step after step, for new positions one at a time and three at a time; in float32 and quantized (W4A4 MXFP4,
 * where decoding runs the projections that share an input together).
 */
class CachedDecodeTest {

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void cachedStepsMatchTheFullPass(boolean quantized, @TempDir Path dir) throws Exception {
        Criteria.Builder<String, String> builder = Criteria.builder()
                .setTypes(String.class, String.class)
                .optGroupId(WushModelZoo.GROUP_ID)
                .optArtifactId("stories260K");
        if (quantized) { // W4A4 MXFP4: decoding steps run the query/key/value and gate/up projections together
            Path calib = dir.resolve("calib.txt");
            Files.writeString(calib, Files.readString(Shared.DIR.resolve("data/tinystories/calib.txt")).substring(0, 20_000));
            builder.optArgument("quantization", "wush:mxfp4").optArgument("calibration", calib.toString())
                    .optArgument("calibWindows", 2).optArgument("method", "rtn");
        }
        Criteria<String, String> criteria = builder.build();
        long[] tokens = {1, 403, 407, 261, 378, 285, 266, 409, 395, 340, 262, 276, 327, 400};
        try (ZooModel<String, String> zoo = criteria.loadModel(); NDManager manager = zoo.getNDManager().newSubManager()) {
            LlamaForCausalLM lm = (LlamaForCausalLM) zoo.getBlock();
            assertEquals(quantized, BlockPaths.find(lm, "model.layers.0.mlp.up_proj") instanceof WushLinear);
            ParameterStore ps = new ParameterStore(manager, false);
            float[] full = lm.forward(ps, new NDList(manager.create(new long[][] {tokens})), false).head().toFloatArray();
            int vocab = lm.config().vocabSize();

            float[] fused = decode(lm, manager, tokens, null);
            float[] engine = decode(lm, manager, tokens, "engine");
            for (int i = 0; i < full.length; i++) {
                assertEquals(full[i], fused[i], 1e-4 * Math.max(1, Math.abs(full[i])), "fused attention: logit " + i % vocab + " of token " + i / vocab);
                assertEquals(full[i], engine[i], 1e-4 * Math.max(1, Math.abs(full[i])), "engine attention: logit " + i % vocab + " of token " + i / vocab);
            }
            if (!quantized) {
                // the two paths are different arithmetic (not the engine twice): they agree to rounding, not bit for bit.
                // (Quantized, the output projection's activation quantization absorbs that rounding: same logits.)
                assertNotEquals(Arrays.hashCode(fused), Arrays.hashCode(engine));
            }
        }
    }

    /** Logits of every position: a prefill of 5 tokens, one step of 3, then steps of 1, each with the cache. */
    private static float[] decode(LlamaForCausalLM lm, NDManager parent, long[] tokens, String attention) {
        String before = System.getProperty("wush.attention");
        if (attention != null) {
            System.setProperty("wush.attention", attention);
        }
        try (NDManager manager = parent.newSubManager()) {
            ParameterStore ps = new ParameterStore(manager, false);
            float[] logits = new float[0];
            NDList cache = new NDList();
            int at = 0;
            for (int step : new int[] {5, 3, 1, 1, 1, 1, 1, 1}) {
                NDList in = new NDList(manager.create(new long[][] {Arrays.copyOfRange(tokens, at, at + step)}));
                in.addAll(cache);
                NDList out = lm.forward(ps, in, false);
                float[] part = out.head().toFloatArray();
                float[] grown = Arrays.copyOf(logits, logits.length + part.length);
                System.arraycopy(part, 0, grown, logits.length, part.length);
                logits = grown;
                cache = out.subNDList(1);
                at += step;
            }
            assertEquals(tokens.length, at);
            return logits;
        } finally {
            if (before == null) {
                System.clearProperty("wush.attention");
            } else {
                System.setProperty("wush.attention", before);
            }
        }
    }
}
