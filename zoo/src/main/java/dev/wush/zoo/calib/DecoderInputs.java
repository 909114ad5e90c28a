package dev.wush.zoo.calib;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import dev.wush.calib.Activations;
import dev.wush.calib.InputRecorder;
import dev.wush.nn.BlockPaths;
import dev.wush.zoo.llama.LlamaForCausalLM;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Runs calibration windows through the (unquantized) model and gathers the inputs of the seven
 * linears of one decoder block, by path relative to the block ({@code self_attn.q_proj}, …).
 */
public final class DecoderInputs {

    /** The linears of a Llama decoder block, in forward order. */
    public static final List<String> LINEARS = List.of(
            "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
            "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj");

    private DecoderInputs() {}

    /**
     * @param windows calibration token windows (count, L)
     * @param batch windows per forward pass
     */
    public static Map<String, Activations> capture(LlamaForCausalLM lm, NDManager manager, long[][] windows, int block,
            int batch) {
        int layers = lm.config().numHiddenLayers();
        if (block < 0 || block >= layers) {
            throw new IllegalArgumentException("--block " + block + ": the model has decoder blocks 0.." + (layers - 1));
        }
        String prefix = "model.layers." + block + ".";
        Map<String, Activations> inputs = new LinkedHashMap<>();
        Map<String, Consumer<NDArray>> sinks = new LinkedHashMap<>();
        for (String name : LINEARS) {
            Linear linear = (Linear) BlockPaths.find(lm, prefix + name);
            Activations acts = new Activations((int) linear.getParameters().get("weight").getArray().getShape().get(1));
            inputs.put(name, acts);
            sinks.put(prefix + name, acts::add);
        }
        InputRecorder.around(lm, sinks, () -> {
            for (int from = 0; from < windows.length; from += batch) {
                long[][] chunk = Arrays.copyOfRange(windows, from, Math.min(windows.length, from + batch));
                try (NDManager step = manager.newSubManager()) {
                    lm.forward(new ParameterStore(step, false), new NDList(step.create(chunk)), false);
                }
            }
        });
        return inputs;
    }
}
