package dev.wush.zoo.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.wush.kernel.CachedAttention;
import dev.wush.nn.ArrayMemory;
import dev.wush.nn.NamedBlock;
import dev.wush.quant.block.WushLinear;
import java.lang.foreign.MemorySegment;

/**
 * Causal self-attention with grouped-query heads and rotary positions.
 *
 * <p>Input: {@code [x (B, T, hidden)]} plus arrays named {@code cos}, {@code sin} (T, headDim),
 * optionally {@code mask} (T, Tk) and the cache {@code past_key}, {@code past_value}
 * (B, kvHeads, Tpast, headDim). Output: {@code [y (B, T, hidden), key, value]} where key and value
 * (B, kvHeads, Tpast + T, headDim) include the new positions. The mask, when given, is the causal mask of
 * the T new positions after Tpast cached ones ({@link LlamaModel#positionInputs}).
 *
 * <p>Decoding (a cache is passed, not training) on PyTorch CPU float32 arrays runs rotary positions, the cache
 * extension and the attention in one native call ({@link CachedAttention}) instead of some fifteen engine
 * operations; {@code -Dwush.attention=engine} keeps the engine's operations. A pass without cache (prefill,
 * perplexity) always uses the engine's operations.
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
        // the three projections read the same x: quantized ones run together (one fork-join of the kernels)
        NDList qkv = WushLinear.forwardShared(ps, x, training, child("q_proj"), child("k_proj"), child("v_proj"));
        NDArray qProj = qkv.get(0); // (B, T, heads·D)
        NDArray kProj = qkv.get(1); // (B, T, kvHeads·D)
        NDArray vProj = qkv.get(2);
        NDArray cos = inputs.get("cos");
        NDArray sin = inputs.get("sin");
        NDArray pastKey = inputs.get("past_key");
        if (!training && pastKey != null) {
            NDList fused = fusedDecode(qProj, kProj, vProj, cos, sin, pastKey, inputs.get("past_value"));
            if (fused != null) {
                NDArray y = child("o_proj").forward(ps, new NDList(fused.head()), false).head();
                fused.head().close();
                return new NDList(y, fused.get(1), fused.get(2));
            }
        }
        // (B, T, heads·D) -> (B, heads, T, D)
        NDArray q = qProj.reshape(b, t, heads, headDim).transpose(0, 2, 1, 3);
        NDArray k = kProj.reshape(b, t, kvHeads, headDim).transpose(0, 2, 1, 3);
        NDArray v = vProj.reshape(b, t, kvHeads, headDim).transpose(0, 2, 1, 3);
        q = rope.apply(q, cos, sin);
        k = rope.apply(k, cos, sin);
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

    /**
     * Decoding on the CPU: rotary positions, cache extension and attention in one native call
     * ({@link CachedAttention}) when the arrays are float32 PyTorch CPU arrays whose memory the kernels can
     * reach; {@code [context (B, T, heads·D), key, value]}, or null to take the engine's operations.
     */
    private NDList fusedDecode(NDArray q, NDArray k, NDArray v, NDArray cos, NDArray sin, NDArray pastKey, NDArray pastValue) {
        CachedAttention kernel = CachedAttention.get();
        if (kernel == null || pastValue == null || !ArrayMemory.reachable(q)) {
            return null;
        }
        for (NDArray a : new NDArray[] {q, k, v, cos, sin, pastKey, pastValue}) {
            if (a.getDataType() != DataType.FLOAT32) {
                return null;
            }
        }
        Shape qs = q.getShape();
        int b = Math.toIntExact(qs.get(0));
        int t = Math.toIntExact(qs.get(1));
        int past = Math.toIntExact(pastKey.getShape().get(2));
        NDManager manager = q.getManager();
        NDArray keys = manager.create(new Shape(b, kvHeads, past + t, headDim), DataType.FLOAT32);
        NDArray values = manager.create(new Shape(b, kvHeads, past + t, headDim), DataType.FLOAT32);
        NDArray context = manager.create(new Shape(b, t, (long) heads * headDim), DataType.FLOAT32);
        NDArray[] arrays = {q, k, v, cos, sin, pastKey, pastValue, keys, values, context};
        MemorySegment[] mem = new MemorySegment[arrays.length];
        for (int i = 0; i < arrays.length; i++) {
            mem[i] = ArrayMemory.of(arrays[i]); // a view (or a contiguous copy) of the array's memory
            if (mem[i] == null) {
                keys.close();
                values.close();
                context.close();
                return null;
            }
        }
        kernel.forward(new CachedAttention.Shape(b, t, past, heads, kvHeads, headDim), scale,
                mem[0], mem[1], mem[2], mem[3], mem[4], mem[5], mem[6], mem[7], mem[8], mem[9]);
        return new NDList(context, keys, values);
    }
}
