package dev.wush.quant.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import dev.wush.calib.Activations;
import dev.wush.calib.InputRecorder;
import dev.wush.nn.BlockPaths;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Runs calibration windows through the (unquantized) model and gathers the inputs of the linears of one decoder
 * block, by path relative to the block ({@code self_attn.q_proj}, …).
 */
public final class DecoderInputs {

    private DecoderInputs() {}

    /**
     * @param windows calibration token windows (count, L), which the architecture's root block takes as its input
     * @param block the decoder block, 0 to {@code blocks() - 1}
     * @param batch windows per forward pass
     */
    public static Map<String, Activations> capture(DecoderArchitecture architecture, NDManager manager, long[][] windows, int block,
            int batch) {
        int blocks = architecture.blocks();
        if (block < 0 || block >= blocks) {
            throw new IllegalArgumentException("decoder block " + block + " does not exist: the model has blocks 0.." + (blocks - 1));
        }
        String prefix = architecture.blockPath(block) + ".";
        Map<String, Activations> inputs = new LinkedHashMap<>();
        Map<String, Consumer<NDArray>> sinks = new LinkedHashMap<>();
        for (String name : architecture.linears()) {
            Linear linear = (Linear) BlockPaths.find(architecture.root(), prefix + name);
            Activations acts = new Activations((int) LinearQuantizer.weight(linear).getShape().get(1));
            inputs.put(name, acts);
            sinks.put(prefix + name, acts::add);
        }
        InputRecorder.around(architecture.root(), sinks, () -> {
            for (int from = 0; from < windows.length; from += batch) {
                long[][] chunk = Arrays.copyOfRange(windows, from, Math.min(windows.length, from + batch));
                try (NDManager step = manager.newSubManager()) {
                    architecture.root().forward(new ParameterStore(step, false), new NDList(step.create(chunk)), false);
                }
            }
        });
        return inputs;
    }
}
