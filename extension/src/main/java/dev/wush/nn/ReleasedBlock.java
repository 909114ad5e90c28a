package dev.wush.nn;

import ai.djl.ndarray.NDList;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * Stands where a block was after its contents were written to disk and freed (a quantizer streaming
 * a model larger than memory to its output): running it is an error that says so, never a silent
 * zero.
 */
public final class ReleasedBlock extends NamedBlock {

    private final String path;

    public ReleasedBlock(String path) {
        this.path = path;
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        throw new IllegalStateException(path + " was written to the output checkpoint and released from memory;"
                + " load that checkpoint to run the model");
    }
}
