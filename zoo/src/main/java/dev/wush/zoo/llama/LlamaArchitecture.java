package dev.wush.zoo.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import dev.wush.io.SafeTensorsCheckpoint;
import dev.wush.quant.pipeline.DecoderArchitecture;
import dev.wush.quant.pipeline.SequentialQuantizer;
import java.io.IOException;
import java.util.List;
import java.util.Map;

/** The Llama family for the quantization pipeline: seven linears per decoder block, in three shared-input groups and one. */
public final class LlamaArchitecture implements DecoderArchitecture {

    /** The linears of a Llama decoder block, in forward order. */
    public static final List<String> LINEARS = List.of(
            "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
            "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj");

    /** The input each linear reads: query, key and value read one array, gate and up another. */
    private static final Map<String, String> INPUT_GROUP = Map.of(
            "self_attn.q_proj", "attn_in", "self_attn.k_proj", "attn_in", "self_attn.v_proj", "attn_in",
            "self_attn.o_proj", "attn_out", "mlp.gate_proj", "mlp_in", "mlp.up_proj", "mlp_in", "mlp.down_proj", "mlp_act");

    private final LlamaForCausalLM lm;

    public LlamaArchitecture(LlamaForCausalLM lm) {
        this.lm = lm;
    }

    @Override
    public Block root() {
        return lm;
    }

    @Override
    public int blocks() {
        return lm.config().numHiddenLayers();
    }

    @Override
    public String blockPath(int block) {
        return "model.layers." + block;
    }

    @Override
    public List<String> linears() {
        return LINEARS;
    }

    @Override
    public String inputGroup(String linear) {
        String group = INPUT_GROUP.get(linear);
        if (group == null) {
            throw new IllegalArgumentException("a Llama decoder block has no linear '" + linear + "'; it has " + LINEARS);
        }
        return group;
    }

    @Override
    public NDArray embed(ParameterStore ps, NDArray tokens) {
        return lm.model().child("embed_tokens").forward(ps, new NDList(tokens), false).head();
    }

    @Override
    public NDList blockInputs(NDManager manager, int length, DataType type) {
        return lm.model().positionInputs(manager, 0, length, type);
    }

    @Override
    public NDArray beforeHead(ParameterStore ps, NDArray hidden) {
        return lm.model().child("norm").forward(ps, new NDList(hidden), false).head();
    }

    @Override
    public String headPath() {
        return "lm_head";
    }

    @Override
    public boolean tiedHead() {
        return lm.config().tieWordEmbeddings();
    }

    /**
     * Block weights read from {@code checkpoint} into {@code manager} as {@code dtype}, for a model loaded with
     * {@link LlamaLoader#loadSkeleton}; the head's weight is the embedding's when tied.
     */
    public SequentialQuantizer.BlockWeights blockWeights(SafeTensorsCheckpoint checkpoint, NDManager manager, DataType dtype) {
        return new BlockWeightsFromCheckpoint(checkpoint, manager, dtype);
    }

    private final class BlockWeightsFromCheckpoint implements SequentialQuantizer.BlockWeights {
        private final SafeTensorsCheckpoint checkpoint;
        private final NDManager manager;
        private final DataType dtype;

        private BlockWeightsFromCheckpoint(SafeTensorsCheckpoint checkpoint, NDManager manager, DataType dtype) {
            this.checkpoint = checkpoint;
            this.manager = manager;
            this.dtype = dtype;
        }

        @Override
        public void load(int block) throws IOException {
            LlamaLoader.loadBlock(lm, checkpoint, block, manager, dtype);
        }

        @Override
        public NDArray weight(String path) throws IOException {
            String tensor = path.equals(headPath()) && tiedHead() ? "model.embed_tokens" : path;
            return checkpoint.load(manager, tensor + ".weight", null, dtype);
        }
    }
}
