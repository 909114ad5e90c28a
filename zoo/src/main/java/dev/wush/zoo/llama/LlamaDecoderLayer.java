package dev.wush.zoo.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.wush.nn.NamedBlock;

/**
 * One pre-norm decoder block: {@code h = x + attn(norm(x)); y = h + mlp(norm(h))}.
 *
 * <p>Input and output follow {@link LlamaAttention}: {@code [x, named cos/sin/mask/past_key/past_value]}
 * in, {@code [y, key, value]} out.
 */
public final class LlamaDecoderLayer extends NamedBlock {

    public LlamaDecoderLayer(LlamaConfig config, RotaryEmbedding rope) {
        putChild("input_layernorm", new RmsNorm(config.rmsNormEps()));
        putChild("self_attn", new LlamaAttention(config, rope));
        putChild("post_attention_layernorm", new RmsNorm(config.rmsNormEps()));
        putChild("mlp", new LlamaMlp(config));
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.head();
        NDArray normed = child("input_layernorm").forward(ps, new NDList(x), training).head();
        NDList attnIn = new NDList(normed);
        attnIn.addAll(inputs.subNDList(1));
        NDList attn = child("self_attn").forward(ps, attnIn, training, params);
        NDArray h = x.add(attn.get(0));
        NDArray normed2 = child("post_attention_layernorm").forward(ps, new NDList(h), training).head();
        NDArray y = h.add(child("mlp").forward(ps, new NDList(normed2), training).head());
        return new NDList(y, attn.get(1), attn.get(2));
    }
}
