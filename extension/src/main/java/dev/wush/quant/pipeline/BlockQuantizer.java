package dev.wush.quant.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import dev.wush.calib.Activations;
import dev.wush.calib.InputRecorder;
import dev.wush.nn.BlockPaths;
import dev.wush.quant.layer.HessianAccumulator;
import dev.wush.quant.transform.TransformKind;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * Quantizes the {@code Linear} blocks of any DJL block tree — a user's own {@code SequentialBlock}
 * MLP as well as a whole model — in one calibration pass: every selected linear's input Hessian is
 * accumulated while the calibration batches run through the unquantized tree, then each linear is
 * quantized and replaced by a {@code WushLinear}. (For decoder-only models, {@link SequentialQuantizer} runs the
 * sequential block-by-block pipeline instead.)
 */
public final class BlockQuantizer {

    /** The default filter: every linear except embeddings and the LM head. */
    public static final Predicate<String> DEFAULT_LAYERS = path -> !path.contains("lm_head") && !path.contains("embed");

    private BlockQuantizer() {}

    /** Linears whose path matches a regular expression (and the default filter). */
    public static Predicate<String> matching(String regex) {
        Pattern p = Pattern.compile(regex);
        return DEFAULT_LAYERS.and(path -> p.matcher(path).find());
    }

    /**
     * @param calibration input batches as the root block takes them
     * @param manager owns the quantized layers' arrays (the model's manager)
     */
    public static List<LayerReport> quantize(Block root, NDManager manager, List<NDList> calibration, QuantizationConfig config) {
        List<String> paths = BlockPaths.linears(root).keySet().stream().filter(config.layers()).toList();
        if (paths.isEmpty()) {
            throw new IllegalArgumentException("no Linear block matches the layer filter");
        }
        Map<String, TransformKind> kurtosisChoice = new HashMap<>();
        Map<String, String> kurtosisReason = new HashMap<>();
        if (config.transform() instanceof TransformChoice.ByKurtosis k) {
            KurtosisSelector.choose(root, paths, k, kurtosisChoice, kurtosisReason);
        }
        List<LayerReport> reports = new ArrayList<>();
        try (NDManager work = manager.newSubManager()) {
            Map<String, HessianAccumulator> hessians = new LinkedHashMap<>();
            Map<String, Activations> samples = new LinkedHashMap<>();
            Map<String, Linear> originals = new LinkedHashMap<>();
            Map<String, Consumer<NDArray>> sinks = new LinkedHashMap<>();
            for (String path : paths) {
                Linear linear = (Linear) BlockPaths.find(root, path);
                int in = (int) LinearQuantizer.weight(linear).getShape().get(1);
                HessianAccumulator acc = LinearQuantizer.accumulator(config, work, in);
                Activations sample = new Activations(in);
                hessians.put(path, acc);
                samples.put(path, sample);
                originals.put(path, linear);
                sinks.put(path, x -> {
                    acc.add(x);
                    sample.addUpTo(x, config.errorRows());
                });
            }
            InputRecorder.around(root, sinks, () -> {
                for (NDList batch : calibration) {
                    try (NDManager step = work.newSubManager()) {
                        batch.tempAttach(step);
                        root.forward(new ParameterStore(step, false), batch, false);
                    }
                }
            });
            LinearQuantizer linears = new LinearQuantizer(config);
            for (String path : paths) {
                Linear linear = originals.get(path);
                String current = BlockPaths.pathOf(root, linear);
                reports.add(linears.quantizeAndReplace(root, manager, work, current, linear, hessians.get(path),
                        samples.get(path), kurtosisChoice.get(path), kurtosisReason.get(path)));
            }
        }
        return reports;
    }
}
