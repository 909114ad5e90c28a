package dev.wush.zoo.llama;

import dev.wush.quant.pipeline.LayerReport;
import dev.wush.quant.pipeline.QuantizationConfig;
import dev.wush.quant.pipeline.SequentialQuantizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.wush.io.JsonFiles;
import dev.wush.io.SafeTensorsCheckpoint;
import dev.wush.io.ShardedSafeTensorsWriter;
import dev.wush.io.ShardedSafeTensorsWriter.Spec;
import dev.wush.io.TensorType;
import dev.wush.kernel.PackedLayer;
import dev.wush.nn.BlockPaths;
import dev.wush.quant.block.WushLinear;
import dev.wush.quant.format.Bf16;
import dev.wush.quant.format.Formats;
import dev.wush.quant.format.Nvfp4;
import dev.wush.quant.format.QuantizedMatrix;
import dev.wush.quant.transform.TransformKind;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * Writes a {@link QuantizedCheckpoint} as the quantizer produces it: {@link #writeBlock} streams
 * every tensor up to the end of a decoder block into the shards as soon as that block is quantized, so
 * the block's packed layers may be freed; {@link #finish} writes the rest and the small files. Tensors
 * go out in the model's parameter order, a quantized linear's tensors in its weight's place.
 * Unquantized tensors are copied byte for byte from the source checkpoint when it has them (bf16 stays
 * bf16 and nothing is loaded to copy it), otherwise taken from the model's arrays.
 */
public final class QuantizedCheckpointWriter implements AutoCloseable {

    private final LlamaForCausalLM lm;
    private final Path source;
    private final Path dir;
    private final QuantizationConfig config;
    private final SafeTensorsCheckpoint sourceTensors; // null when the source has no safetensors
    private final ShardedSafeTensorsWriter out;
    private final Deque<String> pending; // parameter names not yet written, in model order
    private final Map<String, Shape> shapes;
    private final JsonObject layers = new JsonObject();

    private QuantizedCheckpointWriter(LlamaForCausalLM lm, Path source, Path dir, QuantizationConfig config,
            SafeTensorsCheckpoint sourceTensors, long shardBytes) throws IOException {
        this.lm = lm;
        this.source = source;
        this.dir = dir;
        this.config = config;
        this.sourceTensors = sourceTensors;
        this.shapes = lm.parameterShapes();
        this.pending = new ArrayDeque<>(shapes.keySet());
        this.out = ShardedSafeTensorsWriter.open(dir, shardBytes,
                Map.of("format", "pt", "quant_method", QuantizedCheckpoint.QUANT_METHOD), possibleTensors());
    }

    /**
     * @param source the original model directory (config.json, tokenizer files, and the unquantized
     *     tensors when it is a safetensors checkpoint)
     * @param dir an empty directory (an {@link dev.wush.io.OutputDirectory}'s staging directory)
     */
    public static QuantizedCheckpointWriter open(LlamaForCausalLM lm, Path source, Path dir, QuantizationConfig config,
            long shardBytes) throws IOException {
        SafeTensorsCheckpoint tensors = source != null && SafeTensorsCheckpoint.isCheckpoint(source)
                ? SafeTensorsCheckpoint.open(source) : null;
        try {
            return new QuantizedCheckpointWriter(lm, source, dir, config, tensors, shardBytes);
        } catch (IOException | RuntimeException e) {
            if (tensors != null) {
                tensors.close();
            }
            throw e;
        }
    }

    /**
     * The pipeline's output for a streaming run ({@link SequentialQuantizer#quantize(dev.wush.quant.pipeline.DecoderArchitecture,
     * ai.djl.ndarray.NDManager, long[][], SequentialQuantizer.Listener, SequentialQuantizer.BlockWeights,
     * SequentialQuantizer.BlockOutput)}): each decoder block is written as soon as it is done and then released
     * from the model ({@link SequentialQuantizer#release}), and a float32 embedding table is freed once the
     * calibration windows are embedded when this writer copies it from the source. Memory then holds
     * neither the original model nor the quantized one. A failed write is passed through
     * {@code onWriteFailure} (to say where it was writing).
     */
    public SequentialQuantizer.BlockOutput streaming(UnaryOperator<IOException> onWriteFailure) {
        String embedding = "model.embed_tokens.weight";
        return new SequentialQuantizer.BlockOutput() {
            @Override
            public void embedded() {
                ai.djl.nn.Parameter table = LlamaLoader.parameter(lm, embedding);
                if (table.isInitialized() && sourceTensors != null && sourceTensors.contains(embedding)) {
                    table.getArray().close(); // a float32 copy (a 16-bit one is read in the mapping): copied from the source
                }
            }

            @Override
            public void blockDone(int block) throws IOException {
                try {
                    writeBlock(block);
                } catch (IOException e) {
                    throw onWriteFailure.apply(e);
                }
                SequentialQuantizer.release(new LlamaArchitecture(lm), block);
            }
        };
    }

    /** Writes every tensor up to and including those of decoder block {@code block}, which must be quantized. */
    public void writeBlock(int block) throws IOException {
        String prefix = "model.layers." + block + ".";
        int last = -1;
        int i = 0;
        for (String name : pending) {
            if (name.startsWith(prefix)) {
                last = i;
            }
            i++;
        }
        for (int k = 0; k <= last; k++) {
            write(pending.removeFirst());
        }
    }

    /**
     * Writes the remaining tensors, then config.json (with {@code quantization_config}), report.json
     * (unless {@code extraFiles} has one), the tokenizer files and {@code extraFiles}.
     */
    public void finish(List<LayerReport> reports, String version, Map<String, String> extraFiles) throws IOException {
        while (!pending.isEmpty()) {
            write(pending.removeFirst());
        }
        out.finish();
        List<String> files = new ArrayList<>(List.of("config.json"));
        files.addAll(out.shardNames());
        if (out.shardNames().size() > 1) {
            files.add(SafeTensorsCheckpoint.INDEX_FILE);
        }
        if (!extraFiles.containsKey(QuantizedCheckpoint.REPORT_FILE)) { // the calibration record, apart from what loading needs
            JsonObject report = new JsonObject();
            JsonObject perLayer = new JsonObject();
            for (LayerReport r : reports) {
                JsonObject l = new JsonObject();
                l.addProperty("transform", r.transform().label());
                l.addProperty("reason", r.reason());
                l.addProperty("calibration_error", r.error());
                perLayer.add(r.name(), l);
            }
            report.add("layers", perLayer);
            Files.writeString(dir.resolve(QuantizedCheckpoint.REPORT_FILE), new GsonBuilder().setPrettyPrinting().create().toJson(report));
            files.add(QuantizedCheckpoint.REPORT_FILE);
        }
        Files.writeString(dir.resolve(QuantizedCheckpoint.SERVING_FILE), QuantizedCheckpoint.SERVING_PROPERTIES);
        files.add(QuantizedCheckpoint.SERVING_FILE);
        for (String name : QuantizedCheckpoint.TOKENIZER_FILES) {
            if (Files.isRegularFile(source.resolve(name))) {
                try (InputStream in = Files.newInputStream(source.resolve(name))) {
                    Files.copy(in, dir.resolve(name)); // a new file of the user's, not the source's mode bits
                }
                files.add(name);
            }
        }
        for (Map.Entry<String, String> extra : extraFiles.entrySet()) {
            String name = extra.getKey();
            if (name.contains("/") || name.contains("\\") || name.startsWith(".") || files.contains(name)) {
                throw new IllegalArgumentException("extra file name '" + name + "' must be a plain new file name");
            }
            Files.writeString(dir.resolve(name), extra.getValue());
            files.add(name);
        }
        JsonObject root = JsonFiles.readObject(source.resolve("config.json"));
        JsonObject q = new JsonObject();
        q.addProperty("quant_method", QuantizedCheckpoint.QUANT_METHOD);
        q.addProperty("format", Formats.label(config.format()));
        q.addProperty("method", config.method().name().toLowerCase(Locale.ROOT));
        q.addProperty("group_size", config.format().groupSize());
        q.addProperty("activations", config.quantizeActivations() ? "quantized" : "full");
        q.addProperty("transform", QuantizedCheckpoint.describe(config.transform()));
        q.addProperty("seed", config.seed());
        q.add("layers", layers);
        q.addProperty("library", QuantizedCheckpoint.LIBRARY);
        q.addProperty("library_version", version);
        JsonArray written = new JsonArray();
        files.forEach(written::add);
        q.add("files", written); // what a later run may replace (see QuantizedCheckpoint.whyNotReplaceable)
        root.add("quantization_config", q);
        Files.writeString(dir.resolve("config.json"), new GsonBuilder().setPrettyPrinting().create().toJson(root));
    }

    private void write(String name) throws IOException {
        String owner = name.substring(0, name.lastIndexOf('.'));
        Block block = BlockPaths.find(lm, owner);
        if (block instanceof WushLinear wl) {
            if (name.endsWith(".weight")) { // the layer's tensors (its bias included) in its weight's place
                writeLayer(owner, wl);
            }
            return;
        }
        if (owner.equals("lm_head") && lm.config().tieWordEmbeddings()) {
            return; // a tied head is the embedding, saved once
        }
        TensorType type = sourceType(name);
        Spec spec = new Spec(name, type, shapes.get(name));
        if (sourceTensors != null && sourceTensors.contains(name) && sourceTensors.info(name).type() == type
                && sourceTensors.info(name).shape().equals(spec.shape())) {
            out.declare(spec); // unchanged by quantization: the source's bytes
            out.write(name, sourceTensors.file(name).bytes(name));
            sourceTensors.file(name).release(name);
            return;
        }
        out.declare(spec);
        writeArray(name, block.getParameters().get(name.substring(name.lastIndexOf('.') + 1)).getArray(), type);
    }

    /** The source checkpoint's float type of a tensor; F32 when it has none. */
    private TensorType sourceType(String name) throws IOException {
        if (sourceTensors != null && sourceTensors.contains(name)) {
            TensorType t = sourceTensors.info(name).type();
            if (t == TensorType.F32 || t == TensorType.BF16 || t == TensorType.F16) {
                return t;
            }
        }
        return TensorType.F32;
    }

    /** A quantized layer's tensors: qweight, scales, transform, global_scale, bias. */
    private void writeLayer(String path, WushLinear wl) throws IOException {
        PackedLayer q = wl.packed();
        QuantizedMatrix m = q.weight();
        int blocks = m.scaleCodes().length / q.out();
        out.declare(new Spec(path + ".qweight", TensorType.U8, new Shape(q.out(), q.paddedIn() / 2)));
        out.write(path + ".qweight", m.packedCodes());
        boolean byteScales = q.format().scaleBits() == 8;
        out.declare(new Spec(path + ".scales", byteScales ? TensorType.U8 : TensorType.BF16, new Shape(q.out(), blocks)));
        ByteBuffer scales = ByteBuffer.allocate(m.scaleCodes().length * (byteScales ? 1 : 2)).order(ByteOrder.LITTLE_ENDIAN);
        for (int code : m.scaleCodes()) {
            if (byteScales) {
                scales.put((byte) code);
            } else {
                scales.putShort((short) code);
            }
        }
        out.write(path + ".scales", scales.flip());
        TransformKind kind = q.transformKind();
        if (kind != TransformKind.IDENTITY && kind != TransformKind.HADAMARD) { // identity and Hadamard are rebuilt
            int d = q.blockSize();
            out.declare(new Spec(path + ".transform", TensorType.F32, new Shape(blocks, d, d)));
            ByteBuffer t = ByteBuffer.allocate(blocks * d * d * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < blocks; i++) {
                t.asFloatBuffer().position(i * d * d).put(q.transform(i));
            }
            out.write(path + ".transform", t);
        }
        if (q.format() instanceof Nvfp4 nv) {
            out.declare(new Spec(path + ".global_scale", TensorType.F32, new Shape(1)));
            out.write(path + ".global_scale", ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(0, nv.globalScale()));
        }
        if (wl.bias() != null) {
            out.declare(new Spec(path + ".bias", TensorType.F32, wl.bias().getShape()));
            writeArray(path + ".bias", wl.bias(), TensorType.F32);
        }
        JsonObject l = new JsonObject();
        l.addProperty("transform", kind.label());
        if (!Formats.label(q.format()).equals(Formats.label(config.format()))) { // a quantized LM head, say
            l.addProperty("format", Formats.label(q.format()));
        }
        if (q.quantizesActivations() != config.quantizeActivations()) {
            l.addProperty("activations", q.quantizesActivations() ? "quantized" : "full");
        }
        l.addProperty("in", q.in());
        l.addProperty("padded_in", q.paddedIn());
        l.addProperty("out", q.out());
        layers.add(path, l);
    }

    /** Every tensor that may be written, for the shard header reservation: each linear both as it is and quantized. */
    private List<Spec> possibleTensors() throws IOException {
        List<Spec> all = new ArrayList<>();
        int d = config.format().groupSize();
        for (Map.Entry<String, Shape> e : shapes.entrySet()) {
            String name = e.getKey();
            Shape shape = e.getValue();
            all.add(new Spec(name, sourceType(name), shape));
            String owner = name.substring(0, name.lastIndexOf('.'));
            if (name.endsWith(".weight") && shape.dimension() == 2) { // a superset: every matrix
                long outFeatures = shape.get(0);
                long blocks = (shape.get(1) + d - 1) / d;
                all.add(new Spec(owner + ".qweight", TensorType.U8, new Shape(outFeatures, blocks * d / 2)));
                all.add(new Spec(owner + ".scales", TensorType.BF16, new Shape(outFeatures, blocks)));
                all.add(new Spec(owner + ".transform", TensorType.F32, new Shape(blocks, d, d)));
                all.add(new Spec(owner + ".global_scale", TensorType.F32, new Shape(1)));
                all.add(new Spec(owner + ".bias", TensorType.F32, new Shape(outFeatures)));
            }
        }
        return all;
    }

    /**
     * Streams an array in row blocks of about 16 MB, converted to {@code type} (bf16 rounded to
     * nearest even, which is exact for values that came from bf16), so no tensor is copied whole and
     * none is limited to 2 GiB.
     */
    private void writeArray(String name, NDArray array, TensorType type) throws IOException {
        Shape shape = array.getShape();
        long rows = shape.dimension() == 0 ? 1 : shape.get(0);
        long perRow = rows == 0 ? 0 : shape.size() / rows;
        long step = Math.max(1, (16L << 20) / Math.max(1, perRow * 4));
        if (shape.size() == 0) {
            out.write(name, ByteBuffer.allocate(0));
        }
        for (long r = 0; r < rows && shape.size() > 0; r += step) {
            try (NDArray part = shape.dimension() == 0 ? array.duplicate() : array.get(new NDIndex(r + ":" + Math.min(rows, r + step)));
                    NDArray wide = part.toType(DataType.FLOAT32, true)) {
                FloatBuffer values = wide.toByteBuffer().order(ByteOrder.nativeOrder()).asFloatBuffer();
                ByteBuffer bytes = ByteBuffer.allocate(values.remaining() * type.bytes()).order(ByteOrder.LITTLE_ENDIAN);
                while (values.hasRemaining()) {
                    float v = values.get();
                    switch (type) {
                        case F32 -> bytes.putFloat(v);
                        case F16 -> bytes.putShort(Float.floatToFloat16(v));
                        case BF16 -> bytes.putShort((short) Bf16.encode(v));
                        default -> throw new IllegalArgumentException("tensor '" + name + "': cannot store as " + type);
                    }
                }
                out.write(name, bytes.flip());
            }
        }
    }

    @Override
    public void close() throws IOException {
        try {
            out.close();
        } finally {
            if (sourceTensors != null) {
                sourceTensors.close();
            }
        }
    }
}
