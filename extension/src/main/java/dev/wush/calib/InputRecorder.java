package dev.wush.calib;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.wush.nn.NamedBlock;
import java.util.function.Consumer;

/**
 * Stands in for a block while calibration data flows through the model: hands every input to a
 * consumer, then runs the block unchanged. Put in place with {@code BlockPaths.replace} and taken out
 * again with {@link #inner()}.
 */
public final class InputRecorder extends NamedBlock {

    private final Consumer<NDArray> sink;

    public InputRecorder(Block inner, Consumer<NDArray> sink) {
        putChild("inner", inner);
        this.sink = sink;
    }

    /** The wrapped block. */
    public Block inner() {
        return child("inner");
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        sink.accept(inputs.head());
        return inner().forward(ps, inputs, training, params);
    }
}
