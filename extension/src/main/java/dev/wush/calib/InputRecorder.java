package dev.wush.calib;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.wush.nn.BlockPaths;
import dev.wush.nn.NamedBlock;
import java.util.LinkedHashMap;
import java.util.Map;
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

    /**
     * Puts a recorder in front of each block named by {@code sinks} (path → consumer of its inputs),
     * runs {@code body}, and puts the original blocks back, also when the body fails.
     */
    public static void around(Block root, Map<String, Consumer<NDArray>> sinks, Runnable body) {
        Map<InputRecorder, Block> installed = new LinkedHashMap<>();
        try {
            sinks.forEach((path, sink) -> {
                Block original = BlockPaths.find(root, path);
                InputRecorder recorder = new InputRecorder(original, sink);
                BlockPaths.replace(root, path, recorder);
                installed.put(recorder, original);
            });
            body.run();
        } finally {
            // by identity: a SequentialBlock renames a replaced child after its class
            installed.forEach((recorder, original) -> BlockPaths.replace(root, BlockPaths.pathOf(root, recorder), original));
        }
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
