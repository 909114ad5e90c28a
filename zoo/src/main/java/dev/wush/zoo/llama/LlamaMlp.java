package dev.wush.zoo.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.wush.nn.NamedBlock;
import dev.wush.quant.block.WushLinear;

/** SwiGLU feed-forward: {@code down(silu(gate(x)) · up(x))}. */
public final class LlamaMlp extends NamedBlock {

    public LlamaMlp(LlamaConfig config) {
        boolean bias = config.mlpBias();
        putChild("gate_proj", Linear.builder().setUnits(config.intermediateSize()).optBias(bias).build());
        putChild("up_proj", Linear.builder().setUnits(config.intermediateSize()).optBias(bias).build());
        putChild("down_proj", Linear.builder().setUnits(config.hiddenSize()).optBias(bias).build());
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        // gate and up read the same x: quantized ones run together (one fork-join of the kernels)
        NDList gateUp = WushLinear.forwardShared(ps, inputs.head(), training, child("gate_proj"), child("up_proj"));
        NDArray gate = gateUp.get(0);
        NDArray up = gateUp.get(1);
        NDArray act;
        try (NDArray sigmoid = gate.getNDArrayInternal().sigmoid(); NDArray silu = gate.mul(sigmoid)) {
            act = silu.mul(up);
        }
        if (!training) { // the widest arrays of a layer (tokens × intermediate): gone before down_proj runs
            gate.close();
            up.close();
        }
        NDList y = child("down_proj").forward(ps, new NDList(act), training);
        if (!training) {
            act.close();
        }
        return y;
    }
}
