package dev.wush.zoo.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.wush.nn.NamedBlock;

/**
 * Causal self-attention with grouped-query heads and rotary positions.
 *
 * <p>Input: {@code [x (B, T, hidden)]} plus arrays named {@code cos}, {@code sin} (T, headDim),
 * optionally {@code mask} (T, Tk) and the cache {@code past_key}, {@code past_value}
 * (B, kvHeads, Tpast, headDim). Output: {@code [y (B, T, hidden), key, value]} where key and value
 * (B, kvHeads, Tpast + T, headDim) include the new positions.
 */
public final class LlamaAttention extends NamedBlock {

    private final int heads;
    private final int kvHeads;
    private final int headDim;
    private final float scale;
    private final RotaryEmbedding rope;

    public LlamaAttention(LlamaConfig config, RotaryEmbedding rope) {
        this.heads = config.numAttentionHeads();
        this.kvHeads = config.numKeyValueHeads();
        this.headDim = config.headDim();
        this.scale = (float) (1.0 / Math.sqrt(headDim));
        this.rope = rope;
        boolean bias = config.attentionBias();
        putChild("q_proj", Linear.builder().setUnits((long) heads * headDim).optBias(bias).build());
        putChild("k_proj", Linear.builder().setUnits((long) kvHeads * headDim).optBias(bias).build());
        putChild("v_proj", Linear.builder().setUnits((long) kvHeads * headDim).optBias(bias).build());
        putChild("o_proj", Linear.builder().setUnits(config.hiddenSize()).optBias(bias).build());
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.head();
        long b = x.getShape().get(0);
        long t = x.getShape().get(1);
        NDList in = new NDList(x);
        // (B, T, heads·D) -> (B, heads, T, D)
        NDArray q = child("q_proj").forward(ps, in, training).head().reshape(b, t, heads, headDim).transpose(0, 2, 1, 3);
        NDArray k = child("k_proj").forward(ps, in, training).head().reshape(b, t, kvHeads, headDim).transpose(0, 2, 1, 3);
        NDArray v = child("v_proj").forward(ps, in, training).head().reshape(b, t, kvHeads, headDim).transpose(0, 2, 1, 3);

        NDArray cos = inputs.get("cos");
        NDArray sin = inputs.get("sin");
        q = rope.apply(q, cos, sin);
        k = rope.apply(k, cos, sin);
        NDArray pastKey = inputs.get("past_key");
        if (pastKey != null) {
            k = pastKey.concat(k, 2);
            v = inputs.get("past_value").concat(v, 2);
        }

        // Grouped-query attention without copying K/V: query heads are grouped per KV head.
        int group = heads / kvHeads;
        NDArray qg = q.reshape(b, kvHeads, group, t, headDim);                  // (B, KV, G, T, D)
        NDArray kt = k.transpose(0, 1, 3, 2).expandDims(2);                     // (B, KV, 1, D, Tk)
        NDArray scores = qg.matMul(kt).mul(scale).toType(DataType.FLOAT32, false); // (B, KV, G, T, Tk)
        NDArray mask = inputs.get("mask");
        if (mask != null) {
            scores = scores.add(mask);
        }
        NDArray probs = scores.softmax(-1).toType(x.getDataType(), false);
        if (!training) {
            scores.close(); // (B, KV, G, T, Tk) float32: the largest array of a long prefill
        }
        NDArray context = probs.matMul(v.expandDims(2))                          // (B, KV, G, T, D)
                .reshape(b, heads, t, headDim)
                .transpose(0, 2, 1, 3)
                .reshape(b, t, (long) heads * headDim);
        if (!training) {
            probs.close();
        }
        NDArray y = child("o_proj").forward(ps, new NDList(context), training).head();
        return new NDList(y, k, v);
    }
}
