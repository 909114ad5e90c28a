package dev.wush.zoo.llama;

import ai.djl.ndarray.NDList;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.wush.nn.NamedBlock;

/** The decoder layers, named {@code 0 .. n-1} like {@code model.layers.N} in Hugging Face checkpoints. */
public final class LayerStack extends NamedBlock {

    public LayerStack(LlamaConfig config, RotaryEmbedding rope) {
        for (int i = 0; i < config.numHiddenLayers(); i++) {
            putChild(Integer.toString(i), new LlamaDecoderLayer(config, rope));
        }
    }

    /** Decoder layer {@code i} (a {@link LlamaDecoderLayer}, or what replaced it, e.g. a released block). */
    public Block layer(int i) {
        return child(Integer.toString(i));
    }

    /** Number of layers. */
    public int size() {
        return children.size();
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        throw new UnsupportedOperationException("decoder layers run through LlamaModel, which supplies positions and cache");
    }
}
