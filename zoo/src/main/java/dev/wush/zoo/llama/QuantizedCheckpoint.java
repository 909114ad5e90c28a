package dev.wush.zoo.llama;

import dev.wush.quant.pipeline.LayerReport;
import dev.wush.quant.pipeline.QuantizationConfig;
import dev.wush.quant.pipeline.TransformChoice;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import dev.wush.io.CheckpointException;
import dev.wush.io.JsonFiles;
import dev.wush.io.MappedMatrix;
import dev.wush.io.OutputDirectory;
import dev.wush.io.SafeTensorsCheckpoint;
import dev.wush.io.ShardedSafeTensorsWriter;
import dev.wush.io.TensorInfo;
import dev.wush.io.TensorType;
import dev.wush.kernel.PackedLayer;
import dev.wush.nn.BlockPaths;
import dev.wush.quant.block.WushLinear;
import dev.wush.quant.format.Formats;
import dev.wush.quant.format.Nvfp4;
import dev.wush.quant.format.QuantFormat;
import dev.wush.quant.format.QuantizedMatrix;
import dev.wush.quant.layer.LayerTransform;
import dev.wush.quant.layer.QuantizedLayer;
import dev.wush.quant.transform.BlockTransform;
import dev.wush.quant.transform.TransformKind;
import dev.wush.quant.transform.Transforms;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;

/**
 * A quantized Llama checkpoint directory, loadable without calibration data:
 *
 * <ul>
 *   <li>{@code config.json}: the model's config plus {@code quantization_config} (format, method,
 *       group size, activations, the transform and shape of every layer, library version, the files
 *       written);
 *   <li>{@code model.safetensors}, or shards of at most {@link #DEFAULT_SHARD_BYTES} with
 *       {@code model.safetensors.index.json}: the unquantized tensors (embeddings, norms, untied head)
 *       in the source checkpoint's dtype, and per quantized linear {@code P.qweight} (U8, (out,
 *       paddedIn/2), two E2M1/INT4 codes per byte, element 2k in the low nibble), {@code P.scales} (U8
 *       (out, blocks) E8M0/E4M3 codes, or BF16 for INT4), {@code P.transform} (F32 (blocks, d, d), T of
 *       each block; absent for identity and Hadamard, which are rebuilt), {@code P.global_scale} (F32
 *       (1), NVFP4) and {@code P.bias};
 *   <li>{@code report.json}: each layer's calibration error and why it got its transform;
 *   <li>the tokenizer files.
 * </ul>
 *
 * {@code quantization_config.files} lists every file written, so that a later {@link #save} with
 * overwriting may recognise (and only then replace) this directory. Writes go through an
 * {@link OutputDirectory}: a staging directory beside the target, swapped in when complete; tensors
 * are streamed into the shards. Loading validates the config's fields, every layer against the
 * model, and the tensors' dtypes, shapes and scales.
 */
public final class QuantizedCheckpoint {

    public static final String QUANT_METHOD = "wush";
    /** Shards of at most 5 GB, the hub's usual limit. */
    public static final long DEFAULT_SHARD_BYTES = 5_000_000_000L;
    static final String LIBRARY = "wush-djl";
    static final String REPORT_FILE = "report.json";
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(QuantizedCheckpoint.class);
    /**
     * Written beside the weights: DJL's {@code Criteria.optModelPath(dir)} then builds the model with the zoo's block
     * factory; the criteria name the translator ({@code optTranslatorFactory(new LlamaTranslatorFactory())}), because
     * DJL picks it before it reads this file.
     */
    public static final String SERVING_FILE = "serving.properties";
    /** Its content: the engine, the zoo's block factory, and no DJL parameter file to read. */
    public static final String SERVING_PROPERTIES = """
            # DJL: Criteria.builder().setTypes(...).optModelPath(this directory)
            #          .optTranslatorFactory(new dev.wush.zoo.LlamaTranslatorFactory())   (see docs/java-api.md)
            engine=PyTorch
            blockFactory=dev.wush.zoo.LlamaBlockFactory
            option.hasParameter=false
            """;
    static final List<String> TOKENIZER_FILES = List.of(
            "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json");

    private QuantizedCheckpoint() {}

    /** True when {@code config.json} declares a WUSH-quantized model. */
    public static boolean isQuantized(Path dir) throws IOException {
        return quantizationConfig(dir) != null;
    }

    /**
     * The {@code quantization_config} of a WUSH checkpoint's config.json; null when the config has none
     * (a full-precision model). Another library's quantization is an error naming it.
     */
    static JsonObject quantizationConfig(Path dir) throws IOException {
        Path file = dir.resolve("config.json");
        if (!Files.isRegularFile(file)) {
            return null;
        }
        JsonObject root = JsonFiles.readObject(file);
        JsonElement q = root.get("quantization_config");
        if (q == null || q.isJsonNull()) {
            return null;
        }
        if (!q.isJsonObject()) {
            throw new CheckpointException(file + ": field \"quantization_config\" is " + JsonFiles.kind(q) + ", not an object");
        }
        JsonElement method = q.getAsJsonObject().get("quant_method");
        if (method == null || !method.isJsonPrimitive() || !QUANT_METHOD.equals(method.getAsString())) {
            throw new CheckpointException(file + ": field \"quantization_config.quant_method\" is " + method
                    + "; only WUSH-quantized checkpoints (\"" + QUANT_METHOD + "\") or full-precision ones load here");
        }
        return q.getAsJsonObject();
    }

    /**
     * Null when {@code dir} is a previous output of {@link #save} that may be replaced: a WUSH
     * config.json written by this library and nothing but the files {@code save} writes. Otherwise why not.
     */
    public static String whyNotReplaceable(Path dir) throws IOException {
        JsonObject q;
        try {
            q = quantizationConfig(dir);
        } catch (IOException e) {
            q = null;
        }
        boolean ours = q != null && q.get("library") instanceof JsonPrimitive library && LIBRARY.equals(library.getAsString());
        Set<String> own = new HashSet<>(List.of("config.json", SafeTensorsCheckpoint.SINGLE_FILE, REPORT_FILE, SERVING_FILE));
        own.addAll(TOKENIZER_FILES);
        if (ours && q.has("files") && q.get("files").isJsonArray()) { // the manifest of what save wrote
            own.clear();
            q.getAsJsonArray("files").forEach(f -> own.add(f.isJsonPrimitive() ? f.getAsString() : "")); // "" matches no file
        }
        List<String> all = new ArrayList<>();
        List<String> foreign = new ArrayList<>();
        try (Stream<Path> list = Files.list(dir)) {
            for (Path p : list.sorted().toList()) {
                String name = p.getFileName().toString() + (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) ? "/" : "");
                all.add(name);
                if (!Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) || !own.contains(name)) {
                    foreign.add(name);
                }
            }
        }
        if (!ours) {
            return "it has no config.json of a WUSH-quantized model written by " + LIBRARY
                    + (all.isEmpty() ? "" : "; it holds " + preview(all));
        }
        return foreign.isEmpty() ? null : "it holds " + preview(foreign) + ", which this tool did not write";
    }

    private static String preview(List<String> names) {
        return names.size() <= 3 ? String.join(", ", names)
                : String.join(", ", names.subList(0, 3)) + " and " + (names.size() - 3) + " more";
    }

    /**
     * Writes {@code lm} (quantized in place) to {@code out}.
     *
     * @param source the original model directory (config.json, tokenizer files)
     * @param overwrite replace {@code out} if it exists; otherwise an existing {@code out} is an error
     * @param extraFiles more files (name → text) written into the directory, e.g. report.json
     */
    public static void save(LlamaForCausalLM lm, Path source, Path out, QuantizationConfig config,
            List<LayerReport> reports, String version, boolean overwrite, Map<String, String> extraFiles) throws IOException {
        try (OutputDirectory target = OutputDirectory.prepare(out, overwrite, QuantizedCheckpoint::whyNotReplaceable,
                List.of(source), note -> LOG.warn(note))) {
            write(lm, source, target.staging(), config, reports, version, extraFiles);
            target.commit();
        }
    }

    /**
     * Writes {@code lm} (quantized in place) into the empty directory {@code dir}: the staging directory
     * of an {@link OutputDirectory}, which callers that check their output before long work prepare
     * themselves.
     */
    public static void write(LlamaForCausalLM lm, Path source, Path dir, QuantizationConfig config,
            List<LayerReport> reports, String version, Map<String, String> extraFiles) throws IOException {
        write(lm, source, dir, config, reports, version, extraFiles, DEFAULT_SHARD_BYTES);
    }

    /** As {@link #write(LlamaForCausalLM, Path, Path, QuantizationConfig, List, String, Map)}, in shards of at most {@code shardBytes}. */
    public static void write(LlamaForCausalLM lm, Path source, Path dir, QuantizationConfig config,
            List<LayerReport> reports, String version, Map<String, String> extraFiles, long shardBytes) throws IOException {
        try (QuantizedCheckpointWriter writer = QuantizedCheckpointWriter.open(lm, source, dir, config, shardBytes)) {
            writer.finish(reports, version, extraFiles);
        }
    }

    static String describe(TransformChoice choice) {
        return switch (choice) {
            case TransformChoice.Fixed f -> f.kind().label();
            case TransformChoice.ByError e -> "adaptive:error=" + String.join(",", e.candidates().stream().map(TransformKind::label).toList());
            case TransformChoice.ByKurtosis k -> "adaptive:kurtosis=" + k.threshold();
        };
    }

    /** One quantized linear as config.json describes it (its own format and activations where they differ from the model's). */
    private record LayerEntry(TransformKind transform, int in, int out, QuantFormat format, boolean activations) {}

    /** The validated {@code quantization_config}. */
    private record Header(QuantFormat format, boolean activations, long seed, Map<String, LayerEntry> layers) {}

    /**
     * Reads {@code quantization_config} strictly: every field this loader uses must be present, of its
     * type and value set, and every layer must name a linear of {@code lm} with the same shape. Errors
     * name config.json and the field.
     */
    private static Header header(Path dir, LlamaForCausalLM lm) throws IOException {
        JsonObject q = quantizationConfig(dir);
        Path file = dir.resolve("config.json");
        if (q == null) {
            throw new CheckpointException(file + ": no WUSH quantization_config");
        }
        QuantFormat format;
        try {
            format = Formats.parse(string(file, q, "format"));
        } catch (IllegalArgumentException e) {
            throw field(file, "format", e.getMessage());
        }
        if (integer(file, q, "group_size") != format.groupSize()) {
            throw field(file, "group_size", q.get("group_size") + " does not match format " + format.name()
                    + " (groups of " + format.groupSize() + ")");
        }
        String activations = string(file, q, "activations");
        if (!activations.equals("quantized") && !activations.equals("full")) {
            throw field(file, "activations", "\"" + activations + "\" is neither \"quantized\" (W4A4) nor \"full\" (W4A16)");
        }
        long seed = q.has("seed") ? integer(file, q, "seed") : 0;
        JsonElement layersValue = q.get("layers");
        if (layersValue == null || !layersValue.isJsonObject()) {
            throw field(file, "layers", "is " + JsonFiles.kind(layersValue) + "; expected an object of quantized layers");
        }
        Map<String, Shape> shapes = lm.parameterShapes();
        Map<String, LayerEntry> layers = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : layersValue.getAsJsonObject().entrySet()) {
            String path = e.getKey();
            String where = "layers." + path;
            if (!e.getValue().isJsonObject()) {
                throw field(file, where, "is " + JsonFiles.kind(e.getValue()) + ", not an object");
            }
            JsonObject l = e.getValue().getAsJsonObject();
            Shape weight = shapes.get(path + ".weight");
            if (weight == null || weight.dimension() != 2 || BlockPaths.linears(lm).get(path) == null) {
                throw field(file, where, "no linear layer of that name in a Llama model with this config");
            }
            TransformKind kind;
            try {
                kind = TransformKind.parse(string(file, l, "transform", where));
            } catch (IllegalArgumentException ex) {
                throw field(file, where + ".transform", ex.getMessage());
            }
            long in = integer(file, l, "in", where);
            long out = integer(file, l, "out", where);
            if (in != weight.get(1) || out != weight.get(0)) {
                throw field(file, where, "in " + in + ", out " + out + " but the model's layer is (out, in) = " + weight);
            }
            QuantFormat layerFormat = format;
            if (l.has("format")) {
                try {
                    layerFormat = Formats.parse(string(file, l, "format", where));
                } catch (IllegalArgumentException ex) {
                    throw field(file, where + ".format", ex.getMessage());
                }
            }
            boolean layerActivations = activations.equals("quantized");
            if (l.has("activations")) {
                String a = string(file, l, "activations", where);
                if (!a.equals("quantized") && !a.equals("full")) {
                    throw field(file, where + ".activations", "\"" + a + "\" is neither \"quantized\" (W4A4) nor \"full\" (W4A16)");
                }
                layerActivations = a.equals("quantized");
            }
            layers.put(path, new LayerEntry(kind, (int) in, (int) out, layerFormat, layerActivations));
        }
        return new Header(format, activations.equals("quantized"), seed, layers);
    }

    private static CheckpointException field(Path file, String field, String problem) {
        return new CheckpointException(file + ": field \"quantization_config." + field + "\": " + problem);
    }

    private static String string(Path file, JsonObject o, String name) throws CheckpointException {
        return string(file, o, name, null);
    }

    private static String string(Path file, JsonObject o, String name, String prefix) throws CheckpointException {
        JsonElement v = o.get(name);
        String where = prefix == null ? name : prefix + "." + name;
        if (v == null || !v.isJsonPrimitive() || !v.getAsJsonPrimitive().isString()) {
            throw field(file, where, v == null ? "missing" : "is " + JsonFiles.kind(v) + ", not a string");
        }
        return v.getAsString();
    }

    private static long integer(Path file, JsonObject o, String name) throws CheckpointException {
        return integer(file, o, name, null);
    }

    private static long integer(Path file, JsonObject o, String name, String prefix) throws CheckpointException {
        JsonElement v = o.get(name);
        String where = prefix == null ? name : prefix + "." + name;
        Long value = JsonFiles.exactLong(v);
        if (value == null) {
            throw field(file, where, v == null ? "missing" : v + " is not an integer");
        }
        return value;
    }

    /**
     * Builds the model of a quantized checkpoint: unquantized tensors are loaded as usual, every
     * quantized linear becomes a {@link WushLinear} read straight into packed memory. Computing in
     * float32, a 16-bit (bf16/f16) embedding table and LM head are not copied at all: they stay in the
     * memory-mapped checkpoint and are widened where used ({@link TokenEmbedding#useMapped},
     * {@link MappedLinear}); the checkpoint then stays open, owned by {@code manager}.
     */
    public static LlamaForCausalLM load(Path dir, NDManager manager, DataType dtype) throws IOException {
        LlamaForCausalLM lm = new LlamaForCausalLM(LlamaConfig.load(dir));
        Header header = header(dir, lm);
        SafeTensorsCheckpoint tensors = SafeTensorsCheckpoint.open(dir);
        boolean keepOpen = false;
        try {
            Map<String, Shape> shapes = lm.parameterShapes();
            NDArray embedding = null;
            MappedMatrix mappedEmbedding = null;
            for (Map.Entry<String, Shape> e : shapes.entrySet()) {
                String name = e.getKey();
                String owner = name.substring(0, name.lastIndexOf('.'));
                if (header.layers().containsKey(owner)) {
                    continue; // a quantized linear, read below
                }
                boolean table = name.equals("model.embed_tokens.weight") || name.equals("lm_head.weight");
                boolean tiedHead = name.equals("lm_head.weight") && lm.config().tieWordEmbeddings();
                if (tiedHead && mappedEmbedding != null) {
                    BlockPaths.replace(lm, "lm_head", new MappedLinear(mappedEmbedding));
                    continue;
                }
                MappedMatrix m = table && !tiedHead ? LlamaLoader.mappable(tensors, name, e.getValue(), dtype) : null;
                if (m != null) {
                    if (name.equals("model.embed_tokens.weight")) {
                        ((TokenEmbedding) BlockPaths.find(lm, "model.embed_tokens")).useMapped(m);
                        mappedEmbedding = m;
                    } else {
                        BlockPaths.replace(lm, "lm_head", new MappedLinear(m));
                    }
                    keepOpen = true;
                    continue;
                }
                NDArray array = tiedHead
                        ? embedding
                        : LlamaLoader.finite(tensors.load(manager, name, e.getValue(), dtype), tensors.file(name).path(), name);
                if (name.equals("model.embed_tokens.weight")) {
                    embedding = array;
                }
                BlockPaths.find(lm, owner).getParameters().get(name.substring(name.lastIndexOf('.') + 1)).setArray(array);
            }
            for (Map.Entry<String, LayerEntry> e : header.layers().entrySet()) {
                String path = e.getKey();
                LayerEntry l = e.getValue();
                QuantizedLayer layer = readLayer(tensors, path, l.format(), l.transform(), l.in(), l.out(), header.seed());
                NDArray bias = tensors.contains(path + ".bias")
                        ? LlamaLoader.finite(tensors.load(manager, path + ".bias", new Shape(layer.out()), DataType.FLOAT32),
                                tensors.file(path + ".bias").path(), path + ".bias")
                        : null;
                BlockPaths.replace(lm, path, new WushLinear(manager, layer, l.activations(), bias));
            }
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new CheckpointException(dir + ": " + e.getMessage(), e);
        } finally {
            if (keepOpen) {
                manager.attachInternal("mapped-checkpoint-" + java.util.UUID.randomUUID(), tensors); // closed with the model
            } else {
                tensors.close();
            }
        }
        // Reading a layer leaves about a byte of short-lived Java arrays per weight (codes, scale codes, transforms
        // in float64) before the packed copy goes to native memory. G1 grows the heap to absorb them and keeps it
        // committed; one collection here hands those pages back (measured on a 1B model: 1.9 → 1.5 GB resident).
        System.gc();
        return lm;
    }

    private static QuantizedLayer readLayer(SafeTensorsCheckpoint tensors, String path, QuantFormat format, TransformKind kind,
            int in, int out, long seed) throws CheckpointException {
        int d = format.groupSize();
        int p = (in + d - 1) / d * d;
        int blocks = p / d;
        byte[] packed = raw(tensors, path + ".qweight", TensorType.U8, new Shape(out, p / 2));
        int[] scales = new int[out * blocks];
        if (format.scaleBits() == 8) {
            byte[] s = raw(tensors, path + ".scales", TensorType.U8, new Shape(out, blocks));
            for (int i = 0; i < scales.length; i++) {
                scales[i] = s[i] & 0xFF;
            }
        } else {
            ByteBuffer s = ByteBuffer.wrap(raw(tensors, path + ".scales", TensorType.BF16, new Shape(out, blocks))).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < scales.length; i++) {
                scales[i] = s.getShort(2 * i) & 0xFFFF;
            }
        }
        QuantFormat f = format;
        if (format instanceof Nvfp4) {
            ByteBuffer g = ByteBuffer.wrap(raw(tensors, path + ".global_scale", TensorType.F32, new Shape(1))).order(ByteOrder.LITTLE_ENDIAN);
            float global = g.getFloat(0);
            if (!(global > 0) || !Float.isFinite(global)) {
                throw new CheckpointException(tensors.file(path + ".global_scale").path() + ": tensor '" + path + ".global_scale': " + global
                        + " is not a positive finite scale");
            }
            f = new Nvfp4(global, Formats.label(format).equals("nvfp4"));
        }
        for (int i = 0; i < scales.length; i++) {
            float v = f.scaleValue(scales[i]);
            if (!(v >= 0) || !Float.isFinite(v)) {
                throw new CheckpointException(tensors.file(path + ".scales").path() + ": tensor '" + path + ".scales': row " + i / blocks + ", group "
                        + i % blocks + " has scale code " + scales[i] + ", which stands for " + v + " (scales must be finite and ≥ 0)");
            }
        }
        List<BlockTransform> transforms = new ArrayList<>();
        if (kind == TransformKind.IDENTITY || kind == TransformKind.HADAMARD) {
            DMatrixRMaj unused = new DMatrixRMaj(d, d);
            for (int b = 0; b < blocks; b++) {
                transforms.add(Transforms.block(kind, b, unused, unused, seed));
            }
        } else {
            ByteBuffer t = ByteBuffer.wrap(raw(tensors, path + ".transform", TensorType.F32, new Shape(blocks, d, d))).order(ByteOrder.LITTLE_ENDIAN);
            for (int b = 0; b < blocks; b++) {
                DMatrixRMaj forward = new DMatrixRMaj(d, d);
                for (int i = 0; i < d * d; i++) {
                    forward.data[i] = t.getFloat(4 * (b * d * d + i));
                    if (!Double.isFinite(forward.data[i])) {
                        throw new CheckpointException(tensors.file(path + ".transform").path() + ": tensor '" + path + ".transform': block " + b
                                + " holds " + forward.data[i]);
                    }
                }
                DMatrixRMaj inverse = new DMatrixRMaj(d, d);
                if (!CommonOps_DDRM.invert(forward, inverse)) {
                    throw new CheckpointException(tensors.file(path + ".transform").path() + ": tensor '" + path + ".transform': block " + b + " is singular");
                }
                transforms.add(new BlockTransform(forward, CommonOps_DDRM.transpose(inverse, null)));
            }
        }
        return new QuantizedLayer(path, f, new LayerTransform(kind, d, transforms), out, in,
                new QuantizedMatrix(f, out, p, packed, scales));
    }

    private static byte[] raw(SafeTensorsCheckpoint tensors, String name, TensorType type, Shape expected) throws CheckpointException {
        TensorInfo info = tensors.info(name);
        Path file = tensors.file(name).path();
        if (info.type() != type) {
            throw new CheckpointException(file + ": tensor '" + name + "': dtype " + info.type() + ", expected " + type);
        }
        if (!info.shape().equals(expected)) {
            throw new CheckpointException(file + ": tensor '" + name + "': shape " + info.shape()
                    + " but config.json describes " + expected);
        }
        byte[] bytes = tensors.file(name).bytes(name).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        tensors.file(name).release(name); // the mapped pages leave the resident set: the packed copy is what stays
        return bytes;
    }

    /** Bits per quantized weight in the saved file: codes, scales, transforms and global scales, over out × in. */
    public static double bitsPerWeight(Path dir) throws IOException {
        Header header = header(dir, new LlamaForCausalLM(LlamaConfig.load(dir)));
        long bits = 0;
        long weights = 0;
        try (SafeTensorsCheckpoint tensors = SafeTensorsCheckpoint.open(dir)) {
            for (Map.Entry<String, LayerEntry> e : header.layers().entrySet()) {
                String path = e.getKey();
                weights += (long) e.getValue().in() * e.getValue().out();
                for (String suffix : List.of(".qweight", ".scales", ".transform", ".global_scale")) {
                    if (tensors.contains(path + suffix)) {
                        bits += tensors.info(path + suffix).byteSize() * 8;
                    }
                }
            }
        }
        return (double) bits / weights;
    }
}
