package dev.wush.zoo.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import dev.wush.io.CheckpointException;
import dev.wush.io.MappedMatrix;
import dev.wush.io.SafeTensorsCheckpoint;
import dev.wush.io.TensorInfo;
import dev.wush.nn.BlockPaths;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/** Builds a {@link LlamaForCausalLM} from a Hugging Face model directory and fills in its weights. */
public final class LlamaLoader {

    private LlamaLoader() {}

    /**
     * Loads {@code config.json} and the safetensors weights of {@code modelDir}.
     *
     * @param manager owns the weight arrays (a model's manager)
     * @param dtype the type weights are held and computed in (float32 unless memory is short)
     */
    public static LlamaForCausalLM load(Path modelDir, NDManager manager, DataType dtype) throws IOException {
        if (dev.wush.zoo.llama.QuantizedCheckpoint.isQuantized(modelDir)) {
            return dev.wush.zoo.llama.QuantizedCheckpoint.load(modelDir, manager, dtype); // WUSH-quantized: no calibration needed
        }
        LlamaConfig config = LlamaConfig.load(modelDir);
        LlamaForCausalLM lm = new LlamaForCausalLM(config);
        try (SafeTensorsCheckpoint checkpoint = SafeTensorsCheckpoint.open(modelDir)) {
            loadWeights(lm, checkpoint, manager, dtype);
        }
        return lm;
    }

    /** Sets every parameter of {@code lm} from the checkpoint, checking names and shapes. */
    public static void loadWeights(
            LlamaForCausalLM lm, SafeTensorsCheckpoint checkpoint, NDManager manager, DataType dtype)
            throws CheckpointException {
        loadSkeleton(lm, checkpoint, manager, dtype);
        for (int b = 0; b < lm.config().numHiddenLayers(); b++) {
            loadBlock(lm, checkpoint, b, manager, dtype);
        }
    }

    /**
     * Checks the checkpoint's tensor names and sets every parameter outside the decoder blocks
     * (embeddings, final norm, head): with {@link #loadBlock} per block, a model larger than memory is
     * calibrated block by block.
     */
    public static void loadSkeleton(
            LlamaForCausalLM lm, SafeTensorsCheckpoint checkpoint, NDManager manager, DataType dtype)
            throws CheckpointException {
        loadSkeleton(lm, checkpoint, manager, dtype, true);
    }

    /**
     * As {@link #loadSkeleton(LlamaForCausalLM, SafeTensorsCheckpoint, NDManager, DataType)}, for a
     * quantizer that streams its output when {@code head} is false: the LM head is checked but not
     * loaded (the writer copies it from the checkpoint), and a 16-bit embedding table is looked up in
     * place in the mapping ({@link TokenEmbedding#useMapped}) rather than copied, so calibration never
     * holds a float32 table (2.1 GB for Llama-3.1-8B). {@code checkpoint} must then stay open while
     * the model is used.
     */
    public static void loadSkeleton(
            LlamaForCausalLM lm, SafeTensorsCheckpoint checkpoint, NDManager manager, DataType dtype, boolean head)
            throws CheckpointException {
        Map<String, Shape> shapes = lm.parameterShapes();
        Set<String> unexpected = new TreeSet<>(checkpoint.names());
        unexpected.removeAll(shapes.keySet());
        unexpected.removeIf(name -> name.endsWith("rotary_emb.inv_freq")); // recomputed from config
        if (!unexpected.isEmpty()) {
            throw new CheckpointException(
                    checkpoint.directory() + ": tensors not in a Llama model with this config.json ("
                            + lm.config().numHiddenLayers() + " layers): " + preview(unexpected));
        }
        NDArray embedding = null;
        for (Map.Entry<String, Shape> e : shapes.entrySet()) {
            String name = e.getKey();
            if (name.startsWith("model.layers.")) {
                continue;
            }
            NDArray array;
            MappedMatrix table = !head && name.equals("model.embed_tokens.weight") ? mappable(checkpoint, name, e.getValue(), dtype) : null;
            if (table != null) {
                ((TokenEmbedding) BlockPaths.find(lm, "model.embed_tokens")).useMapped(table);
                continue;
            }
            if (name.equals("lm_head.weight") && lm.config().tieWordEmbeddings()) {
                if (!head) {
                    continue; // not needed to calibrate; the writer stores the embedding once
                }
                array = embedding; // tied: the head multiplies by the embedding table
            } else {
                if (!checkpoint.contains(name) && name.equals("lm_head.weight")) {
                    throw new CheckpointException(
                            checkpoint.directory() + ": tensor 'lm_head.weight': missing tensor"
                                    + " (config.json has tie_word_embeddings=false)");
                }
                if (!head && name.equals("lm_head.weight")) {
                    TensorInfo info = checkpoint.info(name);
                    if (!info.shape().equals(e.getValue())) {
                        throw new CheckpointException(checkpoint.file(name).path() + ": tensor '" + name + "': shape "
                                + info.shape() + " but the model needs " + e.getValue());
                    }
                    continue;
                }
                array = finite(checkpoint.load(manager, name, e.getValue(), dtype), checkpoint.file(name).path(), name);
            }
            if (name.equals("model.embed_tokens.weight")) {
                embedding = array;
            }
            parameter(lm, name).setArray(array);
        }
    }

    /** Sets the parameters of decoder block {@code block} from the checkpoint. */
    public static void loadBlock(
            LlamaForCausalLM lm, SafeTensorsCheckpoint checkpoint, int block, NDManager manager, DataType dtype)
            throws CheckpointException {
        String prefix = "model.layers." + block + ".";
        for (Map.Entry<String, Shape> e : lm.parameterShapes().entrySet()) {
            String name = e.getKey();
            if (name.startsWith(prefix)) {
                parameter(lm, name).setArray(
                        finite(checkpoint.load(manager, name, e.getValue(), dtype), checkpoint.file(name).path(), name));
            }
        }
    }

    /**
     * The table {@code name} left in the checkpoint's mapping when that pays: the model computes in
     * float32 and the checkpoint holds it as a 16-bit (bf16/f16) matrix of {@code shape}; null when
     * it must be loaded as usual.
     */
    public static MappedMatrix mappable(SafeTensorsCheckpoint checkpoint, String name, Shape shape, DataType dtype)
            throws CheckpointException {
        if (dtype != DataType.FLOAT32 || !checkpoint.contains(name) || !MappedMatrix.supports(checkpoint.info(name))
                || !checkpoint.info(name).shape().equals(shape)) {
            return null;
        }
        return mapped(checkpoint, name);
    }

    /**
     * A 16-bit table (bf16/f16, 2-D) left in the checkpoint's mapping, after checking that it holds only
     * finite values; the pages read for the check are let go again.
     */
    private static MappedMatrix mapped(SafeTensorsCheckpoint checkpoint, String name) throws CheckpointException {
        MappedMatrix table = MappedMatrix.of(checkpoint, name);
        long bad = table.firstNonFinite();
        checkpoint.file(name).release(name);
        if (bad >= 0) {
            throw new CheckpointException(checkpoint.file(name).path() + ": tensor '" + name + "': holds NaN or infinite"
                    + " values (row " + bad / table.cols() + ", column " + bad % table.cols() + ")");
        }
        return table;
    }

    /**
     * {@code array}, after checking that every value is finite; otherwise it is closed and the error names
     * the file and tensor (a NaN weight would only surface later as NaN log-likelihoods).
     */
    public static NDArray finite(NDArray array, Path file, String tensor) throws CheckpointException {
        boolean bad;
        // one pass without a large temporary: finite for finite weights, almost always
        try (NDArray sum = array.sum(); NDArray wide = sum.toType(DataType.FLOAT32, true)) {
            bad = !Float.isFinite(wide.getFloat());
        }
        if (bad) { // NaN/inf, or only a float16 sum that overflowed: look at the elements
            try (NDArray nan = array.isNaN(); NDArray anyNan = nan.any(); NDArray inf = array.isInfinite(); NDArray anyInf = inf.any()) {
                bad = anyNan.getBoolean() || anyInf.getBoolean();
            }
        }
        if (bad) {
            DataType type = array.getDataType();
            array.close();
            throw new CheckpointException(file + ": tensor '" + tensor + "': holds NaN or infinite values"
                    + (type == DataType.FLOAT16 ? " as float16 (values beyond ±65504 overflow it; load as float32)" : ""));
        }
        return array;
    }

    /** The parameter of {@code root} behind a Hugging Face tensor name, e.g. {@code model.norm.weight}. */
    public static Parameter parameter(Block root, String tensorName) {
        int dot = tensorName.lastIndexOf('.');
        Block block = BlockPaths.find(root, tensorName.substring(0, dot));
        Parameter p = block.getParameters().get(tensorName.substring(dot + 1));
        if (p == null) {
            throw new IllegalStateException("block " + tensorName.substring(0, dot) + " has no parameter "
                    + tensorName.substring(dot + 1));
        }
        return p;
    }

    private static String preview(Set<String> names) {
        return names.size() <= 5 ? names.toString() : names.stream().limit(5).toList() + " and " + (names.size() - 5) + " more";
    }
}
