package dev.wush.zoo.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.wush.nn.NamedBlock;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A Llama-family causal language model as a DJL block tree whose paths are the Hugging Face tensor
 * names: {@code model.embed_tokens}, {@code model.layers.N.self_attn.q_proj}, …, {@code model.norm},
 * {@code lm_head}. Every projection is an {@link Linear}.
 *
 * <p>Input: {@code [ids (B, T) int64]} optionally followed by the cache returned by an earlier call
 * (arrays named {@code key.i}, {@code value.i}). Output: {@code [logits (B, T, vocab) float32, key.0,
 * value.0, …]}: logits first, then the extended cache, ready to be passed back after the next ids.
 */
public final class LlamaForCausalLM extends NamedBlock {

    private final LlamaConfig config;

    public LlamaForCausalLM(LlamaConfig config) {
        this.config = config;
        putChild("model", new LlamaModel(config));
        putChild("lm_head", Linear.builder().setUnits(config.vocabSize()).optBias(false).build());
    }

    /** The architecture. */
    public LlamaConfig config() {
        return config;
    }

    /** The decoder stack. */
    public LlamaModel model() {
        return (LlamaModel) child("model");
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDList hidden = child("model").forward(ps, inputs, training, params);
        NDArray logits = child("lm_head").forward(ps, new NDList(hidden.head()), training).head();
        logits = logits.toType(DataType.FLOAT32, false);
        logits.setName("logits");
        NDList out = new NDList(logits);
        out.addAll(hidden.subNDList(1));
        return out;
    }

    /**
     * Shape of every parameter, by Hugging Face tensor name ({@code lm_head.weight} included even
     * when it is tied to the embedding).
     */
    public Map<String, Shape> parameterShapes() {
        LlamaConfig c = config;
        long hidden = c.hiddenSize();
        long q = (long) c.numAttentionHeads() * c.headDim();
        long kv = (long) c.numKeyValueHeads() * c.headDim();
        long inter = c.intermediateSize();
        Map<String, Shape> shapes = new LinkedHashMap<>();
        shapes.put("model.embed_tokens.weight", new Shape(c.vocabSize(), hidden));
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            String p = "model.layers." + i + ".";
            shapes.put(p + "input_layernorm.weight", new Shape(hidden));
            linear(shapes, p + "self_attn.q_proj", q, hidden, c.attentionBias());
            linear(shapes, p + "self_attn.k_proj", kv, hidden, c.attentionBias());
            linear(shapes, p + "self_attn.v_proj", kv, hidden, c.attentionBias());
            linear(shapes, p + "self_attn.o_proj", hidden, q, c.attentionBias());
            shapes.put(p + "post_attention_layernorm.weight", new Shape(hidden));
            linear(shapes, p + "mlp.gate_proj", inter, hidden, c.mlpBias());
            linear(shapes, p + "mlp.up_proj", inter, hidden, c.mlpBias());
            linear(shapes, p + "mlp.down_proj", hidden, inter, c.mlpBias());
        }
        shapes.put("model.norm.weight", new Shape(hidden));
        shapes.put("lm_head.weight", new Shape(c.vocabSize(), hidden));
        return shapes;
    }

    private static void linear(Map<String, Shape> shapes, String path, long out, long in, boolean bias) {
        shapes.put(path + ".weight", new Shape(out, in)); // (out, in)
        if (bias) {
            shapes.put(path + ".bias", new Shape(out));
        }
    }
}
