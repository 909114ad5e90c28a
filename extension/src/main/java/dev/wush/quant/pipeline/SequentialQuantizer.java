package dev.wush.quant.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import dev.wush.calib.Activations;
import dev.wush.calib.InputRecorder;
import dev.wush.nn.BlockPaths;
import dev.wush.nn.ReleasedBlock;
import dev.wush.quant.block.WushLinear;
import dev.wush.quant.layer.HessianAccumulator;
import dev.wush.quant.transform.TransformKind;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The sequential pipeline of METHOD.md for decoder-only models, driven by a {@link DecoderArchitecture}: block by
 * block, the Hessians of the block's linears come from one forward pass of the unquantized block on inputs produced by
 * the already quantized earlier blocks (activation quantization included); then the linears are quantized and
 * replaced by {@code WushLinear}s and the quantized block produces the next block's inputs. Memory holds one block's
 * Hessians plus the calibration hidden states.
 */
public final class SequentialQuantizer {

    /** Told about progress. */
    public interface Listener {
        void layerDone(int block, int blocks, LayerReport report);
    }

    /**
     * Where the decoder blocks' weights come from when the model was loaded without them (a skeleton): each block is
     * loaded when the pipeline reaches it, and its full-precision linears are freed once quantized, so memory holds
     * one block, not the model.
     */
    public interface BlockWeights {
        /** Sets the parameters of decoder block {@code block}. */
        void load(int block) throws IOException;

        /**
         * One linear's full-precision weight (out, in) by path, the LM head's included (tied or not): for a pass over
         * all of them before quantizing (kurtosis), and for the head.
         */
        NDArray weight(String path) throws IOException;
    }

    /**
     * Told as the pipeline goes, so that a streaming writer may save each block as soon as it is
     * quantized and free it ({@link #release}): memory then never holds the quantized model either.
     */
    public interface BlockOutput {
        /** The calibration windows are embedded: the embedding table is not needed by the pipeline again. */
        default void embedded() throws IOException {}

        /** Decoder block {@code block} is quantized and has produced the next block's inputs. */
        void blockDone(int block) throws IOException;
    }

    /**
     * Frees decoder block {@code block} after it was written out: its arrays are closed, its quantized linears'
     * packed memory freed, and the block is replaced by a {@link ReleasedBlock}, so running the model is a clear
     * error, not a crash on a closed array.
     */
    public static void release(DecoderArchitecture architecture, int block) {
        String path = architecture.blockPath(block);
        Block root = BlockPaths.find(architecture.root(), path);
        List<Block> blocks = new ArrayList<>(List.of(root));
        blocks.addAll(BlockPaths.all(root).values());
        for (Block b : blocks) {
            for (Parameter p : b.getDirectParameters().values()) {
                if (p.isInitialized()) {
                    p.getArray().close();
                }
            }
            if (b instanceof WushLinear wl) {
                wl.free();
            }
        }
        BlockPaths.replace(architecture.root(), path, new ReleasedBlock(path));
    }

    private final QuantizationConfig config;
    private final int batch;
    private final HiddenPrecision hiddenPrecision;

    /** Calibration windows run {@code batch} at a time; hidden states held in float32. */
    public SequentialQuantizer(QuantizationConfig config, int batch) {
        this(config, batch, HiddenPrecision.FLOAT32);
    }

    /**
     * @param hiddenPrecision how the calibration hidden states are held between blocks (16-bit halves
     *     their memory; computation stays float32)
     */
    public SequentialQuantizer(QuantizationConfig config, int batch, HiddenPrecision hiddenPrecision) {
        if (batch < 1) {
            throw new IllegalArgumentException("batch must be at least 1, got " + batch);
        }
        this.config = config;
        this.batch = batch;
        this.hiddenPrecision = hiddenPrecision;
    }

    /**
     * Quantizes the model {@code architecture} describes, in place, on calibration windows (count, L).
     *
     * @param manager owns the quantized layers' arrays (the model's manager)
     */
    public List<LayerReport> quantize(DecoderArchitecture architecture, NDManager manager, long[][] windows, Listener listener) {
        try {
            return quantize(architecture, manager, windows, listener, null);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // no weights are read without a BlockWeights
        }
    }

    /**
     * Quantizes the model in place on calibration windows (count, L), reading each decoder block's
     * weights from {@code weights} when it is reached (null: all weights are already loaded).
     */
    public List<LayerReport> quantize(DecoderArchitecture architecture, NDManager manager, long[][] windows, Listener listener,
            BlockWeights weights) throws IOException {
        return quantize(architecture, manager, windows, listener, weights, block -> {});
    }

    /**
     * As {@link #quantize(DecoderArchitecture, NDManager, long[][], Listener, BlockWeights)}, telling
     * {@code output} as each block is done (a streaming writer).
     */
    public List<LayerReport> quantize(DecoderArchitecture architecture, NDManager manager, long[][] windows, Listener listener,
            BlockWeights weights, BlockOutput output) throws IOException {
        if (windows.length == 0) {
            throw new IllegalArgumentException("no calibration windows");
        }
        Block root = architecture.root();
        int blocks = architecture.blocks();
        int length = windows[0].length;
        Map<String, TransformKind> kurtosisChoice = new HashMap<>();
        Map<String, String> kurtosisReason = new HashMap<>();
        if (config.transform() instanceof TransformChoice.ByKurtosis k) {
            List<String> paths = new ArrayList<>();
            for (int b = 0; b < blocks; b++) {
                for (String linear : architecture.linears()) {
                    paths.add(architecture.linearPath(b, linear));
                }
            }
            if (weights == null) {
                KurtosisSelector.choose(root, paths, k, kurtosisChoice, kurtosisReason);
            } else { // one weight at a time, before any block is loaded
                Map<String, Double> kurtosis = new LinkedHashMap<>();
                for (String path : paths) {
                    try (NDArray w = weights.weight(path)) {
                        kurtosis.put(path, KurtosisSelector.kurtosis(w));
                    }
                }
                KurtosisSelector.choose(kurtosis, k, kurtosisChoice, kurtosisReason);
            }
        }
        LinearQuantizer linears = new LinearQuantizer(config);
        List<LayerReport> reports = new ArrayList<>();
        try (NDManager work = manager.newSubManager()) {
            ParameterStore ps = new ParameterStore(work, false);
            HiddenStates hidden = new HiddenStates(hiddenPrecision, work); // (b, L, hidden) per batch of windows
            for (int from = 0; from < windows.length; from += batch) {
                long[][] chunk = Arrays.copyOfRange(windows, from, Math.min(windows.length, from + batch));
                hidden.add(architecture.embed(ps, work.create(chunk)), architecture.blockPath(0));
            }
            NDList positions = architecture.blockInputs(work, length, hidden.computeType());
            output.embedded();
            for (int b = 0; b < blocks; b++) {
                String prefix = architecture.blockPath(b) + ".";
                if (weights != null) {
                    weights.load(b);
                }
                Block layer = BlockPaths.find(root, architecture.blockPath(b));
                Map<String, HessianAccumulator> hessians = new LinkedHashMap<>();
                Map<String, Activations> samples = new LinkedHashMap<>();
                Map<String, Linear> originals = new LinkedHashMap<>();
                HiddenStates inputs = hidden;
                InputRecorder.around(root, sinks(architecture, prefix, work, hessians, samples, originals),
                        () -> inputs.forEach(h -> runLayer(layer, work, h, positions).close())); // unquantized pass: Hessians only
                for (Map.Entry<String, Linear> e : originals.entrySet()) {
                    String name = prefix + e.getKey();
                    if (!config.layers().test(name)) {
                        continue;
                    }
                    String group = architecture.inputGroup(e.getKey());
                    LayerReport report = linears.quantizeAndReplace(root, manager, work, name, e.getValue(),
                            hessians.get(group), samples.get(group), kurtosisChoice.get(name), kurtosisReason.get(name));
                    LinearQuantizer.weight(e.getValue()).close(); // replaced: its full-precision weight is not needed again
                    reports.add(report);
                    listener.layerDone(b, blocks, report);
                }
                hessians.values().forEach(HessianAccumulator::close);
                HiddenStates next = new HiddenStates(hiddenPrecision, work); // the quantized block makes the next block's inputs
                String nextName = b + 1 < blocks ? architecture.blockPath(b + 1) : "the final norm";
                hidden.drain(h -> next.add(runLayer(layer, work, h, positions), nextName));
                hidden = next;
                output.blockDone(b);
            }
            if (config.headFormat() != null) {
                LayerReport report = quantizeHead(architecture, manager, work, hidden, weights);
                reports.add(report);
                listener.layerDone(blocks - 1, blocks, report);
            }
        }
        return reports;
    }

    /**
     * The LM head, W4A16 in the head format: its Hessian comes from the last block's outputs after the
     * final norm, as the head sees them in the quantized model.
     */
    private LayerReport quantizeHead(DecoderArchitecture architecture, NDManager manager, NDManager work, HiddenStates hidden,
            BlockWeights weights) throws IOException {
        QuantizationConfig head = config.forHead();
        String headPath = architecture.headPath();
        boolean tied = architecture.tiedHead();
        Parameter p = BlockPaths.find(architecture.root(), headPath).getParameters().get("weight");
        NDArray weight;
        boolean ownWeight = !p.isInitialized(); // read now for a streaming run, which did not load the head
        if (ownWeight) {
            if (weights == null) {
                throw new IllegalStateException("the LM head has no weight to quantize");
            }
            weight = weights.weight(headPath);
        } else {
            weight = p.getArray();
        }
        int in = (int) weight.getShape().get(1);
        try (HessianAccumulator acc = LinearQuantizer.accumulator(head, work, in)) {
            Activations sample = new Activations(in);
            hidden.forEach(h -> {
                try (NDManager step = work.newSubManager()) {
                    NDArray normed = architecture.beforeHead(new ParameterStore(step, false), h);
                    normed.attach(step);
                    acc.add(normed);
                    sample.addUpTo(normed, head.errorRows());
                }
            });
            LayerReport report = new LinearQuantizer(head).quantizeAndReplace(architecture.root(), manager, work, headPath, weight,
                    null, acc, sample, null, null);
            if (ownWeight || !tied) {
                weight.close(); // a tied head's weight is the embedding, which stays
            }
            return report;
        }
    }

    /** Recorders for a block's linears: one Hessian (and error sample) per distinct input. */
    private Map<String, Consumer<NDArray>> sinks(DecoderArchitecture architecture, String prefix, NDManager work,
            Map<String, HessianAccumulator> hessians, Map<String, Activations> samples, Map<String, Linear> originals) {
        Map<String, NDArray[]> lastSeen = new HashMap<>();
        Map<String, Consumer<NDArray>> sinks = new LinkedHashMap<>();
        for (String name : architecture.linears()) {
            Linear linear = (Linear) BlockPaths.find(architecture.root(), prefix + name);
            int in = (int) LinearQuantizer.weight(linear).getShape().get(1);
            String group = architecture.inputGroup(name);
            HessianAccumulator acc = hessians.computeIfAbsent(group, g -> LinearQuantizer.accumulator(config, work, in));
            Activations sample = samples.computeIfAbsent(group, g -> new Activations(in));
            NDArray[] last = lastSeen.computeIfAbsent(group, g -> new NDArray[1]);
            originals.put(name, linear);
            sinks.put(prefix + name, x -> {
                if (x == last[0]) {
                    return; // linears of one input group see the same array: accumulate it once
                }
                last[0] = x;
                acc.add(x);
                sample.addUpTo(x, config.errorRows());
            });
        }
        return sinks;
    }

    /** One decoder layer on one batch; its intermediates are freed, its output is kept in {@code work}. */
    private static NDArray runLayer(Block layer, NDManager work, NDArray hidden, NDList positions) {
        try (NDManager step = work.newSubManager()) {
            NDList in = new NDList(hidden);
            in.addAll(positions);
            in.tempAttach(step);
            NDArray out = layer.forward(new ParameterStore(step, false), in, false).head();
            out.attach(work);
            return out;
        }
    }
}
