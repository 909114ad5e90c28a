package dev.wush.zoo.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.wush.io.CheckpointException;
import dev.wush.io.SafeTensorsCheckpoint;
import dev.wush.io.SafeTensorsFile;
import dev.wush.io.SafeTensorsWriter;
import dev.wush.io.TensorInfo;
import dev.wush.io.TensorType;
import dev.wush.nn.BlockPaths;
import dev.wush.quant.block.WushLinear;
import dev.wush.quant.format.Formats;
import dev.wush.quant.format.Nvfp4;
import dev.wush.quant.format.QuantFormat;
import dev.wush.quant.format.QuantizedMatrix;
import dev.wush.kernel.PackedLayer;
import dev.wush.quant.layer.LayerTransform;
import dev.wush.quant.layer.QuantizedLayer;
import dev.wush.quant.transform.BlockTransform;
import dev.wush.quant.transform.TransformKind;
import dev.wush.quant.transform.Transforms;
import dev.wush.zoo.llama.LlamaConfig;
import dev.wush.zoo.llama.LlamaForCausalLM;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;

/**
 * A quantized Llama checkpoint directory, loadable without calibration data:
 *
 * <ul>
 *   <li>{@code config.json}: the model's config plus {@code quantization_config} (format, method,
 *       group size, activations, the transform of every layer, library version);
 *   <li>{@code model.safetensors}: the unquantized tensors (embeddings, norms, untied head) as they
 *       were, and per quantized linear {@code P.qweight} (U8, (out, paddedIn/2), two E2M1/INT4 codes
 *       per byte, element 2k in the low nibble), {@code P.scales} (U8 (out, blocks) E8M0/E4M3 codes, or
 *       BF16 for INT4), {@code P.transform} (F32 (blocks, d, d), T of each block; absent for identity
 *       and Hadamard, which are rebuilt), {@code P.global_scale} (F32 (1), NVFP4) and {@code P.bias};
 *   <li>the tokenizer files.
 * </ul>
 *
 * Writes go to a temporary directory beside the target, renamed into place when complete.
 */
public final class QuantizedCheckpoint {

    public static final String QUANT_METHOD = "wush";
    static final List<String> TOKENIZER_FILES = List.of(
            "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json");

    private QuantizedCheckpoint() {}

    /** True when {@code config.json} declares a WUSH-quantized model. */
    public static boolean isQuantized(Path dir) throws IOException {
        return quantizationConfig(dir) != null;
    }

    static JsonObject quantizationConfig(Path dir) throws IOException {
        Path file = dir.resolve("config.json");
        if (!Files.isRegularFile(file)) {
            return null;
        }
        JsonObject root = JsonParser.parseString(Files.readString(file)).getAsJsonObject();
        if (!root.has("quantization_config")) {
            return null;
        }
        JsonObject q = root.getAsJsonObject("quantization_config");
        return q.has("quant_method") && QUANT_METHOD.equals(q.get("quant_method").getAsString()) ? q : null;
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
        if (Files.exists(out) && !overwrite) {
            throw new FileAlreadyExistsException(out + " exists (use --overwrite to replace it)");
        }
        Path parent = out.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Path tmp = Files.createTempDirectory(parent, "." + out.getFileName() + ".partial-");
        try {
            SafeTensorsWriter tensors = new SafeTensorsWriter();
            JsonObject layers = new JsonObject();
            Map<String, LayerReport> byName = new LinkedHashMap<>();
            reports.forEach(r -> byName.put(r.name(), r));
            for (Map.Entry<String, Block> e : BlockPaths.all(lm).entrySet()) {
                if (e.getValue() instanceof WushLinear wl) {
                    String path = e.getKey();
                    putLayer(tensors, path, wl);
                    JsonObject l = new JsonObject();
                    PackedLayer q = wl.packed();
                    l.addProperty("transform", q.transformKind().label());
                    l.addProperty("in", q.in());
                    l.addProperty("padded_in", q.paddedIn());
                    l.addProperty("out", q.out());
                    LayerReport r = byName.get(path);
                    if (r != null) {
                        l.addProperty("reason", r.reason());
                        l.addProperty("calibration_error", r.error());
                    }
                    layers.add(path, l);
                }
            }
            for (String name : lm.parameterShapes().keySet()) {
                String owner = name.substring(0, name.lastIndexOf('.'));
                if (layers.has(owner) || (owner.equals("lm_head") && lm.config().tieWordEmbeddings())) {
                    continue; // quantized above; a tied head is the embedding, saved once
                }
                Parameter p = BlockPaths.find(lm, owner).getParameters().get(name.substring(name.lastIndexOf('.') + 1));
                tensors.put(name, p.getArray().toType(DataType.FLOAT32, false));
            }
            tensors.metadata("format", "pt").metadata("quant_method", QUANT_METHOD);
            tensors.write(tmp.resolve(SafeTensorsCheckpoint.SINGLE_FILE));

            JsonObject root = JsonParser.parseString(Files.readString(source.resolve("config.json"))).getAsJsonObject();
            JsonObject q = new JsonObject();
            q.addProperty("quant_method", QUANT_METHOD);
            q.addProperty("format", Formats.label(config.format()));
            q.addProperty("method", config.method().name().toLowerCase(java.util.Locale.ROOT));
            q.addProperty("group_size", config.format().groupSize());
            q.addProperty("activations", config.quantizeActivations() ? "quantized" : "full");
            q.addProperty("transform", describe(config.transform()));
            q.addProperty("seed", config.seed());
            q.add("layers", layers);
            q.addProperty("library", "wush-djl");
            q.addProperty("library_version", version);
            root.add("quantization_config", q);
            Files.writeString(tmp.resolve("config.json"), new GsonBuilder().setPrettyPrinting().create().toJson(root));
            for (String name : TOKENIZER_FILES) {
                if (Files.isRegularFile(source.resolve(name))) {
                    Files.copy(source.resolve(name), tmp.resolve(name));
                }
            }
            for (Map.Entry<String, String> extra : extraFiles.entrySet()) {
                Files.writeString(tmp.resolve(extra.getKey()), extra.getValue());
            }
            if (Files.exists(out)) {
                deleteTree(out);
            }
            Files.move(tmp, out, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            if (Files.exists(tmp)) {
                deleteTree(tmp);
            }
        }
    }

    static String describe(TransformChoice choice) {
        return switch (choice) {
            case TransformChoice.Fixed f -> f.kind().label();
            case TransformChoice.ByError e -> "adaptive:error=" + String.join(",", e.candidates().stream().map(TransformKind::label).toList());
            case TransformChoice.ByKurtosis k -> "adaptive:kurtosis=" + k.threshold();
        };
    }

    private static void putLayer(SafeTensorsWriter tensors, String path, WushLinear wl) {
        PackedLayer q = wl.packed();
        QuantizedMatrix m = q.weight();
        tensors.put(path + ".qweight", TensorType.U8, new Shape(q.out(), q.paddedIn() / 2), m.packedCodes());
        int blocks = m.scaleCodes().length / q.out();
        if (q.format().scaleBits() == 8) {
            byte[] scales = new byte[m.scaleCodes().length];
            for (int i = 0; i < scales.length; i++) {
                scales[i] = (byte) m.scaleCodes()[i];
            }
            tensors.put(path + ".scales", TensorType.U8, new Shape(q.out(), blocks), scales);
        } else {
            ByteBuffer b = ByteBuffer.allocate(m.scaleCodes().length * 2).order(ByteOrder.LITTLE_ENDIAN);
            for (int code : m.scaleCodes()) {
                b.putShort((short) code);
            }
            tensors.put(path + ".scales", TensorType.BF16, new Shape(q.out(), blocks), b.array());
        }
        TransformKind kind = q.transformKind();
        if (kind != TransformKind.IDENTITY && kind != TransformKind.HADAMARD) {
            int d = q.blockSize();
            float[] t = new float[blocks * d * d];
            for (int b = 0; b < blocks; b++) {
                System.arraycopy(q.transform(b), 0, t, b * d * d, d * d);
            }
            tensors.putFloats(path + ".transform", new Shape(blocks, d, d), t);
        }
        if (q.format() instanceof Nvfp4 nv) {
            tensors.putFloats(path + ".global_scale", new Shape(1), new float[] {nv.globalScale()});
        }
        if (wl.bias() != null) {
            tensors.put(path + ".bias", wl.bias());
        }
    }

    /**
     * Builds the model of a quantized checkpoint: unquantized tensors are loaded as usual, every
     * quantized linear becomes a {@link WushLinear}.
     */
    public static LlamaForCausalLM load(Path dir, NDManager manager, DataType dtype) throws IOException {
        JsonObject q = quantizationConfig(dir);
        if (q == null) {
            throw new CheckpointException(dir + ": config.json has no WUSH quantization_config");
        }
        Path configFile = dir.resolve("config.json");
        QuantFormat format;
        try {
            format = Formats.parse(q.get("format").getAsString());
        } catch (RuntimeException e) {
            throw new CheckpointException(configFile + ": quantization_config.format: " + e.getMessage());
        }
        if (!q.has("group_size") || q.get("group_size").getAsInt() != format.groupSize()) {
            throw new CheckpointException(configFile + ": quantization_config.group_size does not match format "
                    + format.name() + " (group " + format.groupSize() + ")");
        }
        boolean activations = !"full".equals(q.has("activations") ? q.get("activations").getAsString() : "quantized");
        long seed = q.has("seed") ? q.get("seed").getAsLong() : 0;
        JsonObject layers = q.getAsJsonObject("layers");
        LlamaForCausalLM lm = new LlamaForCausalLM(LlamaConfig.load(dir));
        Path file = dir.resolve(SafeTensorsCheckpoint.SINGLE_FILE);
        try (SafeTensorsFile tensors = SafeTensorsFile.open(file)) {
            Map<String, Shape> shapes = lm.parameterShapes();
            NDArray embedding = null;
            for (Map.Entry<String, Shape> e : shapes.entrySet()) {
                String name = e.getKey();
                String owner = name.substring(0, name.lastIndexOf('.'));
                if (layers.has(owner)) {
                    continue; // a quantized linear, read below
                }
                NDArray array = name.equals("lm_head.weight") && lm.config().tieWordEmbeddings()
                        ? embedding
                        : tensors.load(manager, name, e.getValue(), dtype);
                if (name.equals("model.embed_tokens.weight")) {
                    embedding = array;
                }
                BlockPaths.find(lm, owner).getParameters().get(name.substring(name.lastIndexOf('.') + 1)).setArray(array);
            }
            for (String path : layers.keySet()) {
                JsonObject l = layers.getAsJsonObject(path);
                TransformKind kind = TransformKind.parse(l.get("transform").getAsString());
                QuantizedLayer layer = readLayer(tensors, path, format, kind, l.get("in").getAsInt(), l.get("out").getAsInt(), seed);
                NDArray bias = tensors.tensors().containsKey(path + ".bias")
                        ? tensors.load(manager, path + ".bias", new Shape(layer.out()), DataType.FLOAT32) : null;
                BlockPaths.replace(lm, path, new WushLinear(manager, layer, activations, bias));
            }
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new CheckpointException(dir + ": " + e.getMessage(), e);
        }
        return lm;
    }

    private static QuantizedLayer readLayer(SafeTensorsFile tensors, String path, QuantFormat format, TransformKind kind,
            int in, int out, long seed) throws CheckpointException {
        int d = format.groupSize();
        int p = (in + d - 1) / d * d;
        int blocks = p / d;
        byte[] packed = raw(tensors, path + ".qweight", new Shape(out, p / 2));
        int[] scales = new int[out * blocks];
        if (format.scaleBits() == 8) {
            byte[] s = raw(tensors, path + ".scales", new Shape(out, blocks));
            for (int i = 0; i < scales.length; i++) {
                scales[i] = s[i] & 0xFF;
            }
        } else {
            ByteBuffer s = ByteBuffer.wrap(raw(tensors, path + ".scales", new Shape(out, blocks))).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < scales.length; i++) {
                scales[i] = s.getShort(2 * i) & 0xFFFF;
            }
        }
        QuantFormat f = format;
        if (format instanceof Nvfp4) {
            ByteBuffer g = ByteBuffer.wrap(raw(tensors, path + ".global_scale", new Shape(1))).order(ByteOrder.LITTLE_ENDIAN);
            f = new Nvfp4(g.getFloat(0), Formats.label(format).equals("nvfp4"));
        }
        List<BlockTransform> transforms = new ArrayList<>();
        if (kind == TransformKind.IDENTITY || kind == TransformKind.HADAMARD) {
            DMatrixRMaj unused = new DMatrixRMaj(d, d);
            for (int b = 0; b < blocks; b++) {
                transforms.add(Transforms.block(kind, b, unused, unused, seed));
            }
        } else {
            ByteBuffer t = ByteBuffer.wrap(raw(tensors, path + ".transform", new Shape(blocks, d, d))).order(ByteOrder.LITTLE_ENDIAN);
            for (int b = 0; b < blocks; b++) {
                DMatrixRMaj forward = new DMatrixRMaj(d, d);
                for (int i = 0; i < d * d; i++) {
                    forward.data[i] = t.getFloat(4 * (b * d * d + i));
                }
                DMatrixRMaj inverse = new DMatrixRMaj(d, d);
                if (!CommonOps_DDRM.invert(forward, inverse)) {
                    throw new CheckpointException(tensors.path() + ": tensor '" + path + ".transform': block " + b + " is singular");
                }
                transforms.add(new BlockTransform(forward, CommonOps_DDRM.transpose(inverse, null)));
            }
        }
        return new QuantizedLayer(path, f, new LayerTransform(kind, d, transforms), out, in,
                new QuantizedMatrix(f, out, p, packed, scales));
    }

    private static byte[] raw(SafeTensorsFile tensors, String name, Shape expected) throws CheckpointException {
        TensorInfo info = tensors.info(name);
        if (!info.shape().equals(expected)) {
            throw new CheckpointException(tensors.path() + ": tensor '" + name + "': shape " + info.shape()
                    + " but config.json describes " + expected);
        }
        return tensors.bytes(name).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
    }

    /** Bits per quantized weight in the saved file: codes, scales, transforms and global scales, over out × in. */
    public static double bitsPerWeight(Path dir) throws IOException {
        JsonObject q = quantizationConfig(dir);
        long bits = 0;
        long weights = 0;
        try (SafeTensorsFile tensors = SafeTensorsFile.open(dir.resolve(SafeTensorsCheckpoint.SINGLE_FILE))) {
            for (String path : q.getAsJsonObject("layers").keySet()) {
                JsonObject l = q.getAsJsonObject("layers").getAsJsonObject(path);
                weights += (long) l.get("in").getAsInt() * l.get("out").getAsInt();
                for (String suffix : List.of(".qweight", ".scales", ".transform", ".global_scale")) {
                    if (tensors.tensors().containsKey(path + suffix)) {
                        bits += tensors.info(path + suffix).byteSize() * 8;
                    }
                }
            }
        }
        return (double) bits / weights;
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
