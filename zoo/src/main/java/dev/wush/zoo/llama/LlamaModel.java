package dev.wush.zoo.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.wush.nn.NamedBlock;

/**
 * The decoder stack: {@code embed_tokens → layers.0 … layers.N-1 → norm}.
 *
 * <p>Input: {@code [ids (B, T) int64]}, optionally followed by the cache of an earlier call, arrays
 * named {@code key.i} and {@code value.i} (B, kvHeads, Tpast, headDim). Output: {@code [hidden (B, T,
 * hidden), key.0, value.0, …]} with the cache extended by the T new positions. Cache arrays passed
 * in are relabelled, not copied; the returned cache replaces them.
 */
public final class LlamaModel extends NamedBlock {

    private final LlamaConfig config;
    private final RotaryEmbedding rope;

    public LlamaModel(LlamaConfig config) {
        this.config = config;
        this.rope = new RotaryEmbedding(config);
        putChild("embed_tokens", new TokenEmbedding());
        putChild("layers", new LayerStack(config, rope));
        putChild("norm", new RmsNorm(config.rmsNormEps()));
    }

    /** The decoder layers. */
    public LayerStack layers() {
        return (LayerStack) child("layers");
    }

    /** Rotary embedding shared by all layers. */
    public RotaryEmbedding rope() {
        return rope;
    }

    /** Name of the cached key of layer {@code i} in input and output lists. */
    public static String keyName(int i) {
        return "key." + i;
    }

    /** Name of the cached value of layer {@code i} in input and output lists. */
    public static String valueName(int i) {
        return "value." + i;
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray ids = inputs.head();
        if (ids.getShape().dimension() != 2) {
            throw new IllegalArgumentException("token ids must be (batch, tokens), got " + ids.getShape());
        }
        int t = Math.toIntExact(ids.getShape().get(1));
        NDArray past0 = inputs.get(keyName(0));
        long start = past0 == null ? 0 : past0.getShape().get(2);
        if (start + t > config.maxPositionEmbeddings()) {
            throw new IllegalArgumentException(
                    "sequence of " + (start + t) + " tokens exceeds max_position_embeddings "
                            + config.maxPositionEmbeddings());
        }
        NDArray h = child("embed_tokens").forward(ps, new NDList(ids), training).head();
        NDList positions = positionInputs(h.getManager(), start, t, h.getDataType());
        NDArray cos = positions.get("cos");
        NDArray sin = positions.get("sin");
        NDArray mask = positions.get("mask");

        LayerStack layers = layers();
        NDList out = new NDList(layers.size() * 2 + 1);
        out.add(null);
        for (int i = 0; i < layers.size(); i++) {
            NDList layerIn = new NDList(h, cos, sin);
            if (mask != null) {
                layerIn.add(mask);
            }
            NDArray pastKey = inputs.get(keyName(i));
            if (pastKey != null) {
                NDArray pastValue = inputs.get(valueName(i));
                if (pastValue == null) {
                    throw new IllegalArgumentException("cache has " + keyName(i) + " but no " + valueName(i));
                }
                // relabel (no copy): the layer protocol calls them past_key / past_value
                layerIn.add(named(pastKey, "past_key"));
                layerIn.add(named(pastValue, "past_value"));
            }
            NDList layerOut;
            if (training) {
                layerOut = layers.layer(i).forward(ps, layerIn, true, params); // gradients need every intermediate
            } else {
                // a layer's intermediate arrays (attention scores, the MLP's wide activations) are freed when it
                // returns, not when the caller's manager closes: a prefill holds one layer's worth, not all of them
                try (NDScope scope = new NDScope()) {
                    layerOut = layers.layer(i).forward(ps, layerIn, false, params);
                    NDScope.unregister(layerOut);
                }
            }
            if (!training && layerOut.get(0) != h) {
                h.close(); // this pass made it (embedding or the layer before): nobody else holds it
            }
            h = layerOut.get(0);
            out.add(named(layerOut.get(1), keyName(i)));
            out.add(named(layerOut.get(2), valueName(i)));
        }
        out.set(0, child("norm").forward(ps, new NDList(h), training).head());
        return out;
    }

    /**
     * What every decoder layer needs besides the hidden states for positions {@code start ..
     * start+t-1}: arrays named {@code cos}, {@code sin} and (for t > 1) {@code mask}. Append them to
     * {@code [hidden]} to run one {@link LlamaDecoderLayer} on its own.
     */
    public NDList positionInputs(NDManager manager, long start, int t, DataType dtype) {
        NDList cosSin = rope.cosSin(manager, start, t, dtype);
        NDList out = new NDList(named(cosSin.get(0), "cos"), named(cosSin.get(1), "sin"));
        if (t > 1) {
            out.add(causalMask(manager, start, t));
        }
        return out;
    }

    /** (T, start+T) float32: 0 where query i may see key j (j ≤ start + i), a huge negative elsewhere. */
    static NDArray causalMask(NDManager manager, long start, int t) {
        NDArray rows = manager.arange(start, start + t, 1, DataType.INT64).reshape(t, 1);
        NDArray cols = manager.arange(0, start + t, 1, DataType.INT64).reshape(1, start + t);
        NDArray mask = cols.gt(rows).toType(DataType.FLOAT32, false).mul(-Float.MAX_VALUE);
        mask.setName("mask");
        return mask;
    }

    private static NDArray named(NDArray array, String name) {
        array.setName(name);
        return array;
    }
}
