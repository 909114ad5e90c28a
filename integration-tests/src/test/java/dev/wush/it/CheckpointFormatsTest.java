package dev.wush.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Parameter;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.wush.io.SafeTensorsCheckpoint;
import dev.wush.io.SafeTensorsFile;
import dev.wush.io.SafeTensorsWriter;
import dev.wush.io.TensorInfo;
import dev.wush.io.TensorType;
import dev.wush.nn.BlockPaths;
import dev.wush.translators.Perplexity;
import dev.wush.translators.PerplexityEvaluator;
import dev.wush.translators.PerplexityTranslator;
import dev.wush.translators.TextTokenizer;
import dev.wush.translators.TokenWindows;
import dev.wush.translators.WindowLosses;
import dev.wush.zoo.llama.LlamaConfig;
import dev.wush.zoo.llama.LlamaForCausalLM;
import dev.wush.zoo.llama.LlamaLoader;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Sharded, bfloat16 and float16 variants of a shared checkpoint load and score like the original. */
class CheckpointFormatsTest {

    static final int WINDOWS = 24;

    @TempDir
    Path tmp;

    @Test
    void shardedCheckpointScoresExactlyLikeTheSingleFile() throws Exception {
        Path source = Shared.model("stories260K");
        Path sharded = copyMetadata(source, tmp.resolve("sharded"));
        try (SafeTensorsFile file = SafeTensorsFile.open(source.resolve("model.safetensors"))) {
            List<SafeTensorsWriter> shards = List.of(new SafeTensorsWriter(), new SafeTensorsWriter(), new SafeTensorsWriter());
            JsonObject weightMap = new JsonObject();
            int i = 0;
            for (TensorInfo info : file.tensors().values()) {
                int shard = i++ % shards.size();
                shards.get(shard).put(info.name(), info.type(), info.shape(), file.bytes(info.name()).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
                weightMap.addProperty(info.name(), shardName(shard));
            }
            for (int s = 0; s < shards.size(); s++) {
                shards.get(s).write(sharded.resolve(shardName(s)));
            }
            JsonObject index = new JsonObject();
            index.add("weight_map", weightMap);
            Files.writeString(sharded.resolve(SafeTensorsCheckpoint.INDEX_FILE), index.toString());
        }
        assertEquals(perplexity(source, DataType.FLOAT32).ppl(), perplexity(sharded, DataType.FLOAT32).ppl(), 0.0);
    }

    @Test
    void bfloat16CheckpointWidensExactly() throws Exception {
        Path source = Shared.model("babyllama105");
        Path bf16 = copyMetadata(source, tmp.resolve("bf16"));
        JsonObject config = JsonParser.parseString(Files.readString(source.resolve("config.json"))).getAsJsonObject();
        config.addProperty("torch_dtype", "bfloat16");
        Files.writeString(bf16.resolve("config.json"), config.toString());
        SafeTensorsWriter writer = new SafeTensorsWriter();
        try (SafeTensorsFile file = SafeTensorsFile.open(source.resolve("model.safetensors"))) {
            for (TensorInfo info : file.tensors().values()) {
                float[] values = new float[(int) info.shape().size()];
                file.bytes(info.name()).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
                writer.put(info.name(), TensorType.BF16, info.shape(), toBf16(values));
            }
        }
        writer.write(bf16.resolve("model.safetensors"));

        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            LlamaForCausalLM lm = LlamaLoader.load(bf16, m, DataType.FLOAT32);
            assertEquals(DataType.BFLOAT16, lm.config().torchDtype());
            Parameter q = BlockPaths.find(lm, "model.layers.2.self_attn.q_proj").getParameters().get("weight");
            float[] loaded = q.getArray().toFloatArray();
            try (SafeTensorsFile file = SafeTensorsFile.open(source.resolve("model.safetensors"))) {
                float[] original = new float[loaded.length];
                file.bytes("model.layers.2.self_attn.q_proj.weight").asByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(original);
                float[] rounded = new float[original.length];
                ByteBuffer b = ByteBuffer.wrap(toBf16(original)).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < rounded.length; i++) {
                    rounded[i] = Float.intBitsToFloat((b.getShort(2 * i) & 0xFFFF) << 16);
                }
                assertArrayEquals(rounded, loaded, 0f); // widening is exact
            }
        }
        double fp32 = perplexity(source, DataType.FLOAT32).ppl();
        double fromBf16 = perplexity(bf16, DataType.FLOAT32).ppl();
        assertEquals(fp32, fromBf16, fp32 * 0.01, "bf16-rounded weights change perplexity by under 1%");
    }

    @Test
    void float16ComputeStaysClose() throws Exception {
        Path source = Shared.model("stories260K");
        double fp32 = perplexity(source, DataType.FLOAT32).ppl();
        double fp16 = perplexity(source, DataType.FLOAT16).ppl();
        assertTrue(Math.abs(fp16 - fp32) < fp32 * 0.005, fp32 + " vs " + fp16);
    }

    private static Perplexity perplexity(Path dir, DataType dtype) throws Exception {
        try (Model model = Model.newInstance("m", Device.cpu(), "PyTorch")) {
            LlamaForCausalLM lm = LlamaLoader.load(dir, model.getNDManager(), dtype);
            model.setBlock(lm);
            LlamaConfig c = lm.config();
            try (TextTokenizer tok = TextTokenizer.load(dir, c.bosTokenId(), List.of(2L));
                    Predictor<TokenWindows, WindowLosses> p = model.newPredictor(new PerplexityTranslator())) {
                long[] ids = tok.encodeWithBos(Files.readString(Shared.TINYSTORIES_EVAL));
                long[] head = java.util.Arrays.copyOf(ids, 256 * WINDOWS);
                return new PerplexityEvaluator(256, 4).evaluate(p, head, done -> {});
            }
        }
    }

    private static Path copyMetadata(Path source, Path target) throws IOException {
        Files.createDirectories(target);
        for (String name : List.of("config.json", "tokenizer.json", "tokenizer_config.json")) {
            Files.copy(source.resolve(name), target.resolve(name));
        }
        return target;
    }

    private static String shardName(int s) {
        return String.format("model-%05d-of-%05d.safetensors", s + 1, 3);
    }

    /** float32 → bfloat16 bits, round to nearest even (finite inputs). */
    static byte[] toBf16(float[] values) {
        ByteBuffer out = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            int bits = Float.floatToRawIntBits(v);
            int rounded = bits + 0x7FFF + ((bits >>> 16) & 1);
            out.putShort((short) (rounded >>> 16));
        }
        return out.array();
    }

}
