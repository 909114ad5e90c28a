package dev.wush.quant.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import java.util.List;

/**
 * What the sequential pipeline ({@link SequentialQuantizer}) knows of a decoder-only model family: where the decoder
 * blocks are, which linears each holds and which of them read the same input, and how hidden states enter, pass and
 * leave the stack. The algorithms know no family; another family needs only its description (Llama's is
 * {@code dev.wush.zoo.llama.LlamaArchitecture}).
 */
public interface DecoderArchitecture {

    /** The whole model: linears are found and replaced below it by path. */
    Block root();

    /** Number of decoder blocks. */
    int blocks();

    /** Path of decoder block {@code block} below {@link #root()}, e.g. {@code model.layers.3}. */
    String blockPath(int block);

    /** The linears of one decoder block, by path relative to it, in forward order (e.g. {@code self_attn.q_proj}). */
    List<String> linears();

    /**
     * The input a linear reads, as a name shared by the linears that read the same array (query, key and value read
     * the normed hidden state): they share one Hessian, accumulated once.
     */
    String inputGroup(String linear);

    /** Token windows (b, L) int64 to the first block's input (b, L, hidden). */
    NDArray embed(ParameterStore ps, NDArray tokens);

    /** What every block takes after the hidden states, for windows of {@code length} tokens (positions, masks). */
    NDList blockInputs(NDManager manager, int length, DataType type);

    /** The last block's output (b, L, hidden) as the LM head reads it (after the final norm). */
    NDArray beforeHead(ParameterStore ps, NDArray hidden);

    /** Path of the LM head below {@link #root()}. */
    String headPath();

    /** True when the head's weight is the embedding table, which the model keeps. */
    boolean tiedHead();

    /** Path of a decoder block's linear: {@code blockPath(block) + "." + linear}. */
    default String linearPath(int block, String linear) {
        return blockPath(block) + "." + linear;
    }
}
