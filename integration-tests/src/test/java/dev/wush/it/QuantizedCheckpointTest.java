package dev.wush.it;

import dev.wush.zoo.llama.LlamaArchitecture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Parameter;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.wush.io.CheckpointException;
import dev.wush.nn.BlockPaths;
import dev.wush.quant.block.WushLinear;
import dev.wush.quant.format.Formats;
import dev.wush.quant.transform.TransformKind;
import dev.wush.translators.PerplexityEvaluator;
import dev.wush.translators.PerplexityTranslator;
import dev.wush.translators.TextTokenizer;
import dev.wush.translators.TokenWindows;
import dev.wush.translators.WindowLosses;
import dev.wush.zoo.WushModelZoo;
import dev.wush.zoo.llama.LlamaForCausalLM;
import dev.wush.zoo.llama.LlamaLoader;
import dev.wush.quant.pipeline.LayerReport;
import dev.wush.quant.pipeline.SequentialQuantizer;
import dev.wush.quant.pipeline.QuantMethod;
import dev.wush.quant.pipeline.QuantizationConfig;
import dev.wush.zoo.llama.QuantizedCheckpoint;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Quantize, save, reload: the same perplexity, the stated storage, clear failures. */
class QuantizedCheckpointTest {

    static final int WINDOWS = 40;

    @TempDir
    Path tmp;

    record Quantized(Model model, LlamaForCausalLM lm, List<LayerReport> reports, QuantizationConfig config) {}

    static Quantized quantize(String name, String format, String method, TransformKind kind, int calibWindows) throws Exception {
        Path dir = Shared.model(name);
        Model model = Model.newInstance("q", Device.cpu(), "PyTorch");
        LlamaForCausalLM lm = LlamaLoader.load(dir, model.getNDManager(), DataType.FLOAT32);
        model.setBlock(lm);
        try (TextTokenizer tokenizer = TextTokenizer.load(dir, 1, List.of(2L))) {
            long[] calib = tokenizer.encodeWithBos(Files.readString(Shared.DIR.resolve("data/tinystories/calib.txt")));
            QuantizationConfig config = QuantizationConfig.of(Formats.parse(format), QuantMethod.parse(method), kind);
            List<LayerReport> reports = new SequentialQuantizer(config, 4).quantize(new LlamaArchitecture(lm), model.getNDManager(),
                    Arrays.copyOf(TokenWindows.cut(calib, 256), calibWindows), (b, n, r) -> {});
            return new Quantized(model, lm, reports, config);
        }
    }

    static double perplexity(Model model, Path tokenizerDir) throws Exception {
        try (TextTokenizer tokenizer = TextTokenizer.load(tokenizerDir, 1, List.of(2L));
                Predictor<TokenWindows, WindowLosses> p = model.newPredictor(new PerplexityTranslator())) {
            long[] ids = Arrays.copyOf(tokenizer.encodeWithBos(Files.readString(Shared.TINYSTORIES_EVAL)), 256 * WINDOWS);
            return new PerplexityEvaluator(256, 4).evaluate(p, ids, d -> {}).ppl();
        }
    }

    @Test
    void savedCheckpointReloadsWithTheIdenticalPerplexity() throws Exception {
        for (String[] c : new String[][] {{"mxfp4", "gptq", "wush"}, {"nvfp4", "rtn", "hadamard"}, {"int4", "rtn", "wus"}}) {
            Quantized q = quantize("stories260K", c[0], c[1], TransformKind.parse(c[2]), 16);
            Path out = tmp.resolve(String.join("-", c));
            try (Model model = q.model()) {
                double before = perplexity(model, Shared.model("stories260K"));
                QuantizedCheckpoint.save(q.lm(), Shared.model("stories260K"), out, q.config(), q.reports(), "test", false,
                        Map.of("report.json", "{}"));
                Criteria<TokenWindows, WindowLosses> criteria = Criteria.builder()
                        .setTypes(TokenWindows.class, WindowLosses.class)
                        .optGroupId(WushModelZoo.GROUP_ID).optArtifactId(WushModelZoo.ANY_LLAMA)
                        .optArgument("model", out.toString())
                        .build();
                try (ZooModel<TokenWindows, WindowLosses> reloaded = criteria.loadModel()) {
                    assertTrue(BlockPaths.find(reloaded.getBlock(), "model.layers.4.mlp.down_proj") instanceof WushLinear);
                    assertEquals(before, perplexity(reloaded, out), 0.0, String.join(" ", c) + ": identical after reload");
                }
            }
            JsonObject config = JsonParser.parseString(Files.readString(out.resolve("config.json"))).getAsJsonObject();
            JsonObject qc = config.getAsJsonObject("quantization_config");
            assertEquals(c[0], qc.get("format").getAsString());
            assertEquals(c[1], qc.get("method").getAsString());
            assertEquals(35, qc.getAsJsonObject("layers").size());
            assertEquals(c[2], qc.getAsJsonObject("layers").getAsJsonObject("model.layers.0.self_attn.q_proj").get("transform").getAsString());
            assertTrue(Files.isRegularFile(out.resolve("tokenizer.json")) && Files.isRegularFile(out.resolve("report.json")));
            try (var files = Files.list(tmp)) {
                assertTrue(files.noneMatch(p -> p.getFileName().toString().contains(".partial")), "no partial directory left");
            }
        }
    }

    /**
     * Loading each block only when calibration reaches it (what {@code wush quantize} and quantize-on-load
     * do) gives exactly the model that quantizing a fully loaded one gives.
     */
    @Test
    void blockByBlockLoadingQuantizesIdentically() throws Exception {
        Path dir = Shared.model("stories260K");
        long[][] windows;
        try (TextTokenizer tokenizer = TextTokenizer.load(dir, 1, List.of(2L))) {
            windows = Arrays.copyOf(TokenWindows.cut(tokenizer.encodeWithBos(
                    Files.readString(Shared.DIR.resolve("data/tinystories/calib.txt"))), 256), 8);
        }
        for (String transform : List.of("wush", "adaptive:kurtosis")) {
            QuantizationConfig config = new QuantizationConfig(Formats.parse("mxfp4"), QuantMethod.GPTQ,
                    dev.wush.quant.pipeline.TransformChoice.parse(transform), true, path -> true, 0, 4096);
            try (Model whole = Model.newInstance("whole", Device.cpu(), "PyTorch");
                    Model streamed = Model.newInstance("streamed", Device.cpu(), "PyTorch");
                    dev.wush.io.SafeTensorsCheckpoint weights = dev.wush.io.SafeTensorsCheckpoint.open(dir)) {
                LlamaForCausalLM a = LlamaLoader.load(dir, whole.getNDManager(), DataType.FLOAT32);
                whole.setBlock(a);
                List<LayerReport> ra = new SequentialQuantizer(config, 4).quantize(new LlamaArchitecture(a), whole.getNDManager(), windows, (b, n, r) -> {});

                LlamaForCausalLM b = new LlamaForCausalLM(a.config());
                streamed.setBlock(b);
                LlamaLoader.loadSkeleton(b, weights, streamed.getNDManager(), DataType.FLOAT32);
                List<LayerReport> rb = new SequentialQuantizer(config, 4).quantize(new LlamaArchitecture(b), streamed.getNDManager(), windows,
                        (x, n, r) -> {}, new LlamaArchitecture(b).blockWeights(weights, streamed.getNDManager(), DataType.FLOAT32));

                assertEquals(ra.stream().map(r -> r.transform() + " " + r.reason()).toList(),
                        rb.stream().map(r -> r.transform() + " " + r.reason()).toList(), transform);
                assertTrue(Arrays.equals(losses(whole, windows), losses(streamed, windows)), transform + ": identical outputs");
            }
        }
    }

    /** Block by block means it: when block b loads, earlier blocks are quantized with their weights freed, later ones absent. */
    @Test
    void atMostOneBlockIsHeldInFullPrecision() throws Exception {
        Path dir = Shared.model("stories260K");
        long[][] windows = new long[2][64];
        QuantizationConfig config = QuantizationConfig.of(Formats.parse("mxfp4"), QuantMethod.RTN, TransformKind.HADAMARD);
        try (Model model = Model.newInstance("streamed", Device.cpu(), "PyTorch");
                dev.wush.io.SafeTensorsCheckpoint weights = dev.wush.io.SafeTensorsCheckpoint.open(dir)) {
            LlamaForCausalLM lm = new LlamaForCausalLM(dev.wush.zoo.llama.LlamaConfig.load(dir));
            model.setBlock(lm);
            LlamaLoader.loadSkeleton(lm, weights, model.getNDManager(), DataType.FLOAT32);
            SequentialQuantizer.BlockWeights real = new LlamaArchitecture(lm).blockWeights(weights, model.getNDManager(), DataType.FLOAT32);
            List<ai.djl.ndarray.NDArray> loaded = new java.util.ArrayList<>();
            int blocks = lm.config().numHiddenLayers();
            new SequentialQuantizer(config, 2).quantize(new LlamaArchitecture(lm), model.getNDManager(), windows, (b, n, r) -> {}, new SequentialQuantizer.BlockWeights() {
                @Override
                public void load(int block) throws java.io.IOException {
                    for (int k = 0; k < blocks; k++) {
                        ai.djl.nn.Block down = BlockPaths.find(lm, "model.layers." + k + ".mlp.down_proj");
                        if (k < block) {
                            assertTrue(down instanceof WushLinear, "block " + k + " quantized before block " + block + " loads");
                        } else {
                            assertFalse(down.getParameters().get("weight").isInitialized(), "block " + k + " not loaded yet");
                        }
                    }
                    assertTrue(loaded.stream().allMatch(ai.djl.ndarray.NDArray::isReleased), "earlier full-precision weights freed");
                    real.load(block);
                    for (String linear : dev.wush.zoo.llama.LlamaArchitecture.LINEARS) {
                        loaded.add(BlockPaths.find(lm, "model.layers." + block + "." + linear).getParameters().get("weight").getArray());
                    }
                }

                @Override
                public ai.djl.ndarray.NDArray weight(String path) throws java.io.IOException {
                    return real.weight(path);
                }
            });
            assertEquals(7 * blocks, loaded.size());
            assertTrue(loaded.stream().allMatch(ai.djl.ndarray.NDArray::isReleased));
        }
    }

    /** A bf16 source stays bf16 where unquantized; shards of any size reload to the same outputs. */
    @Test
    void bf16SourceWritesBf16ShardsThatReloadIdentically() throws Exception {
        JsonObject small = smallLlama(2);
        small.addProperty("tie_word_embeddings", false);
        Path source = Files.createDirectory(tmp.resolve("bf16-source"));
        new dev.wush.zoo.synth.SyntheticCheckpoint(small, dev.wush.io.TensorType.BF16, 11).write(source, 100_000, d -> {});

        long[][] windows = new long[4][64];
        java.util.Random random = new java.util.Random(3);
        for (long[] w : windows) {
            for (int i = 0; i < w.length; i++) {
                w[i] = random.nextInt(600);
            }
        }
        Path out = tmp.resolve("bf16-quantized");
        try (Model model = Model.newInstance("q", Device.cpu(), "PyTorch")) {
            LlamaForCausalLM lm = LlamaLoader.load(source, model.getNDManager(), DataType.FLOAT32);
            model.setBlock(lm);
            QuantizationConfig config = QuantizationConfig.of(Formats.parse("nvfp4"), QuantMethod.RTN, TransformKind.WUSH);
            List<LayerReport> reports = new SequentialQuantizer(config, 2).quantize(new LlamaArchitecture(lm), model.getNDManager(), windows, (b, n, r) -> {});
            double[] before = losses(model, windows);
            QuantizedCheckpoint.write(lm, source, Files.createDirectory(out), config, reports, "test", Map.of(), 50_000);
            try (Model reloaded = Model.newInstance("r", Device.cpu(), "PyTorch")) {
                reloaded.setBlock(QuantizedCheckpoint.load(out, reloaded.getNDManager(), DataType.FLOAT32));
                assertTrue(java.util.Arrays.equals(before, losses(reloaded, windows)), "identical after reload");
            }
        }
        assertTrue(Files.isRegularFile(out.resolve("model.safetensors.index.json")), "sharded");
        try (dev.wush.io.SafeTensorsCheckpoint c = dev.wush.io.SafeTensorsCheckpoint.open(out)) {
            assertEquals(dev.wush.io.TensorType.BF16, c.info("model.embed_tokens.weight").type(), "bf16 stays bf16");
            assertEquals(dev.wush.io.TensorType.BF16, c.info("model.layers.1.input_layernorm.weight").type());
            assertEquals(dev.wush.io.TensorType.U8, c.info("model.layers.1.mlp.down_proj.qweight").type());
        }
        JsonObject layer = JsonParser.parseString(Files.readString(out.resolve("config.json"))).getAsJsonObject()
                .getAsJsonObject("quantization_config").getAsJsonObject("layers").getAsJsonObject("model.layers.0.mlp.up_proj");
        assertFalse(layer.has("reason") || layer.has("calibration_error"), "config keeps what loading needs: " + layer);
        JsonObject report = JsonParser.parseString(Files.readString(out.resolve("report.json"))).getAsJsonObject();
        assertTrue(report.getAsJsonObject("layers").getAsJsonObject("model.layers.0.mlp.up_proj").has("calibration_error"));
    }

    /**
     * What {@code wush quantize} does — the skeleton without the head (a bf16 embedding looked up in the
     * mapping), each block written as soon as it is quantized and then freed — writes exactly the
     * tensors that saving the fully loaded, quantized model writes; and the released blocks are gone.
     */
    @Test
    void streamingBlockByBlockWritesWhatSavingTheWholeModelWrites() throws Exception {
        JsonObject small = smallLlama(3);
        for (boolean tied : new boolean[] {false, true}) {
            small.addProperty("tie_word_embeddings", tied);
            Path source = Files.createDirectory(tmp.resolve("source-" + tied));
            new dev.wush.zoo.synth.SyntheticCheckpoint(small, dev.wush.io.TensorType.BF16, 5).write(source, 100_000, d -> {});
            long[][] windows = new long[3][48];
            java.util.Random random = new java.util.Random(9);
            for (long[] w : windows) {
                for (int i = 0; i < w.length; i++) {
                    w[i] = random.nextInt(600);
                }
            }
            QuantizationConfig config = new QuantizationConfig(Formats.parse("mxfp4"), QuantMethod.RTN,
                    dev.wush.quant.pipeline.TransformChoice.parse("adaptive:error"), true, path -> true, 0, 4096);
            if (tied) { // the head too, from the embedding, in another format (W4A16)
                config = config.withHead(Formats.parse("nvfp4"));
            }
            double[] inMemory;
            Path whole = Files.createDirectory(tmp.resolve("whole-" + tied));
            Path streamed = Files.createDirectory(tmp.resolve("streamed-" + tied));
            try (Model a = Model.newInstance("a", Device.cpu(), "PyTorch");
                    Model b = Model.newInstance("b", Device.cpu(), "PyTorch");
                    dev.wush.io.SafeTensorsCheckpoint weights = dev.wush.io.SafeTensorsCheckpoint.open(source)) {
                LlamaForCausalLM la = LlamaLoader.load(source, a.getNDManager(), DataType.FLOAT32);
                a.setBlock(la);
                List<LayerReport> ra = new SequentialQuantizer(config, 2).quantize(new LlamaArchitecture(la), a.getNDManager(), windows, (x, n, r) -> {});
                QuantizedCheckpoint.write(la, source, whole, config, ra, "test", Map.of(), 60_000);
                inMemory = losses(a, windows);
                assertEquals(tied, BlockPaths.find(la, "lm_head") instanceof WushLinear wl && !wl.quantizesActivations());

                LlamaForCausalLM lb = new LlamaForCausalLM(la.config());
                b.setBlock(lb);
                LlamaLoader.loadSkeleton(lb, weights, b.getNDManager(), DataType.FLOAT32, false);
                assertTrue(((dev.wush.zoo.llama.TokenEmbedding) BlockPaths.find(lb, "model.embed_tokens")).mapped() != null,
                        "the bf16 table is read in place");
                assertFalse(BlockPaths.find(lb, "lm_head").getParameters().get("weight").isInitialized(), "no head loaded");
                List<LayerReport> rb;
                try (dev.wush.zoo.llama.QuantizedCheckpointWriter writer =
                        dev.wush.zoo.llama.QuantizedCheckpointWriter.open(lb, source, streamed, config, 60_000)) {
                    rb = new SequentialQuantizer(config, 2).quantize(new LlamaArchitecture(lb), b.getNDManager(), windows, (x, n, r) -> {},
                            new LlamaArchitecture(lb).blockWeights(weights, b.getNDManager(), DataType.FLOAT32), block -> {
                                writer.writeBlock(block);
                                SequentialQuantizer.release(new LlamaArchitecture(lb), block);
                                assertTrue(BlockPaths.find(lb, "model.layers." + block) instanceof dev.wush.nn.ReleasedBlock);
                            });
                    writer.finish(rb, "test", Map.of());
                }
                assertEquals(ra.stream().map(r -> r.transform() + " " + r.error()).toList(),
                        rb.stream().map(r -> r.transform() + " " + r.error()).toList(), "same calibration");
                Throwable released = assertThrows(Exception.class, () -> losses(b, windows));
                while (released.getCause() != null && !(released instanceof IllegalStateException)) {
                    released = released.getCause();
                }
                assertTrue(String.valueOf(released.getMessage()).contains("released from memory"), String.valueOf(released));
            }
            try (dev.wush.io.SafeTensorsCheckpoint x = dev.wush.io.SafeTensorsCheckpoint.open(whole);
                    dev.wush.io.SafeTensorsCheckpoint y = dev.wush.io.SafeTensorsCheckpoint.open(streamed)) {
                assertEquals(x.names(), y.names(), "tied " + tied);
                for (String name : x.names()) {
                    assertEquals(x.info(name).type(), y.info(name).type(), name);
                    assertEquals(x.info(name).shape(), y.info(name).shape(), name);
                    assertTrue(x.file(name).bytes(name).mismatch(y.file(name).bytes(name)) < 0, name + " byte for byte");
                }
            }
            assertEquals(Files.readString(whole.resolve("config.json")), Files.readString(streamed.resolve("config.json")));
            try (Model reloaded = Model.newInstance("r", Device.cpu(), "PyTorch")) {
                LlamaForCausalLM lr = QuantizedCheckpoint.load(streamed, reloaded.getNDManager(), DataType.FLOAT32);
                reloaded.setBlock(lr);
                assertTrue(Arrays.equals(inMemory, losses(reloaded, windows)), "tied " + tied + ": identical after reload");
                assertEquals(tied, lr.child("lm_head") instanceof WushLinear wl && !wl.quantizesActivations()
                        && wl.packed().format() instanceof dev.wush.quant.format.Nvfp4, "the head's own format and W4A16");
            }
        }
    }

    /** A Llama-3.2-style config.json shrunk to 64 features, {@code blocks} blocks and a 600-token vocabulary. */
    static JsonObject smallLlama(int blocks) {
        JsonObject small = dev.wush.zoo.synth.LlamaPresets.config("llama-3.2-1b");
        for (String[] kv : new String[][] {{"hidden_size", "64"}, {"intermediate_size", "160"}, {"num_attention_heads", "4"},
            {"num_key_value_heads", "2"}, {"head_dim", "16"}, {"vocab_size", "600"}, {"bos_token_id", "1"},
            {"max_position_embeddings", "256"}}) {
            small.addProperty(kv[0], Integer.parseInt(kv[1]));
        }
        small.addProperty("num_hidden_layers", blocks);
        small.add("eos_token_id", JsonParser.parseString("[2]"));
        return small;
    }

    static double[] losses(Model model, long[][] windows) throws Exception {
        try (Predictor<TokenWindows, WindowLosses> p = model.newPredictor(new PerplexityTranslator())) {
            return p.predict(new TokenWindows(windows)).nll();
        }
    }

    @Test
    void storageStaysUnderFourPointSixBitsWhereTransformsNeedNoStorage() throws Exception {
        Quantized mx = quantize("babyllama105", "mxfp4", "rtn", TransformKind.HADAMARD, 4);
        Quantized nv = quantize("babyllama105", "nvfp4", "rtn", TransformKind.IDENTITY, 4);
        Quantized wush = quantize("babyllama105", "mxfp4", "rtn", TransformKind.WUSH, 4);
        double[] bits = new double[3];
        int i = 0;
        for (Quantized q : List.of(mx, nv, wush)) {
            Path out = tmp.resolve("bits" + i);
            try (Model m = q.model()) {
                QuantizedCheckpoint.save(q.lm(), Shared.model("babyllama105"), out, q.config(), q.reports(), "test", false, Map.of());
            }
            bits[i++] = QuantizedCheckpoint.bitsPerWeight(out);
        }
        assertEquals(4.25, bits[0], 1e-9, "MXFP4: 4 bits + an 8-bit scale per 32");
        // NVFP4: 4 bits + an 8-bit scale per 16, + one 32-bit global per layer (35 layers of babyllama105)
        long weights = 5L * (128 * 128 + 2 * 64 * 128 + 128 * 128 + 3 * 352 * 128);
        assertEquals(4.5 + 35.0 * 32 / weights, bits[1], 1e-9);
        // a d×d float32 transform per block costs 32·d/out bits per weight: ≈ 4.25 + 8 bits for out=128
        assertTrue(bits[2] > 4.6, "WUSH transforms of a 128-wide model: " + bits[2]);
    }

    @Test
    void refusesAnExistingOutputUnlessOverwriting() throws Exception {
        Quantized q = quantize("stories260K", "mxfp4", "rtn", TransformKind.IDENTITY, 2);
        Path out = tmp.resolve("exists");
        Files.createDirectories(out);
        Files.writeString(out.resolve("keep.txt"), "mine");
        try (Model m = q.model()) {
            assertThrows(FileAlreadyExistsException.class, () -> QuantizedCheckpoint.save(q.lm(), Shared.model("stories260K"),
                    out, q.config(), q.reports(), "test", false, Map.of()));
            assertTrue(Files.isRegularFile(out.resolve("keep.txt")));
            // overwriting replaces only a previous result, never a directory holding the user's files
            IOException foreign = assertThrows(IOException.class, () -> QuantizedCheckpoint.save(q.lm(),
                    Shared.model("stories260K"), out, q.config(), q.reports(), "test", true, Map.of()));
            assertTrue(foreign.getMessage().contains("keep.txt"), foreign.getMessage());
            assertEquals("mine", Files.readString(out.resolve("keep.txt")));
            Files.delete(out.resolve("keep.txt")); // an empty directory is taken as it is
            QuantizedCheckpoint.save(q.lm(), Shared.model("stories260K"), out, q.config(), q.reports(), "test", false, Map.of());
            QuantizedCheckpoint.save(q.lm(), Shared.model("stories260K"), out, q.config(), q.reports(), "again", true, Map.of());
            assertTrue(Files.readString(out.resolve("config.json")).contains("\"library_version\": \"again\""));
            assertTrue(QuantizedCheckpoint.isQuantized(out));
        }
    }

    @Test
    void corruptedOrMismatchedCheckpointsFailClearly() throws Exception {
        Quantized q = quantize("stories260K", "nvfp4", "rtn", TransformKind.WUSH, 2);
        Path out = tmp.resolve("ok");
        try (Model m = q.model()) {
            QuantizedCheckpoint.save(q.lm(), Shared.model("stories260K"), out, q.config(), q.reports(), "test", false, Map.of());
        }
        // a config that claims another format: the stored shapes do not match
        Path other = tmp.resolve("mismatch");
        Files.createDirectories(other);
        for (String f : List.of("model.safetensors", "tokenizer.json", "tokenizer_config.json")) {
            Files.copy(out.resolve(f), other.resolve(f));
        }
        Files.writeString(other.resolve("config.json"), Files.readString(out.resolve("config.json"))
                .replace("\"format\": \"nvfp4\"", "\"format\": \"mxfp4\"").replace("\"group_size\": 16", "\"group_size\": 32"));
        try (Model m = Model.newInstance("x", Device.cpu(), "PyTorch")) {
            CheckpointException e = assertThrows(CheckpointException.class, () -> LlamaLoader.load(other, m.getNDManager(), DataType.FLOAT32));
            assertTrue(e.getMessage().contains("qweight") || e.getMessage().contains("scales"), e.getMessage());
        }
        // a truncated weights file
        byte[] bytes = Files.readAllBytes(out.resolve("model.safetensors"));
        Files.write(out.resolve("model.safetensors"), Arrays.copyOf(bytes, bytes.length - 100));
        try (Model m = Model.newInstance("x", Device.cpu(), "PyTorch")) {
            CheckpointException e = assertThrows(CheckpointException.class, () -> LlamaLoader.load(out, m.getNDManager(), DataType.FLOAT32));
            assertTrue(e.getMessage().contains("model.safetensors") && e.getMessage().contains("truncated"), e.getMessage());
        }
    }

    @Test
    void nanInCalibrationActivationsNamesTheLayer() throws Exception {
        Path dir = Shared.model("stories260K");
        try (Model model = Model.newInstance("q", Device.cpu(), "PyTorch");
                TextTokenizer tokenizer = TextTokenizer.load(dir, 1, List.of(2L))) {
            LlamaForCausalLM lm = LlamaLoader.load(dir, model.getNDManager(), DataType.FLOAT32);
            Parameter norm = BlockPaths.find(lm, "model.layers.1.post_attention_layernorm").getParameters().get("weight");
            norm.getArray().set(new ai.djl.ndarray.index.NDIndex("3"), Float.NaN);
            long[] calib = tokenizer.encodeWithBos(Files.readString(Shared.DIR.resolve("data/tinystories/calib.txt")));
            QuantizationConfig config = QuantizationConfig.of(Formats.parse("mxfp4"), QuantMethod.RTN, TransformKind.WUSH);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new SequentialQuantizer(config, 4).quantize(new LlamaArchitecture(lm), model.getNDManager(), Arrays.copyOf(TokenWindows.cut(calib, 256), 2), (b, n, r) -> {}));
            assertTrue(e.getMessage().contains("model.layers.1.mlp.gate_proj") && e.getMessage().contains("NaN"), e.getMessage());
        }
    }
}
