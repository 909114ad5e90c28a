package dev.wush.zoo.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.wush.io.MappedMatrix;
import dev.wush.nn.NamedBlock;

/**
 * Token ids (B, T) to vectors (B, T, hidden) by row lookup in {@code weight} (vocab, hidden) — or,
 * after {@link #useMapped}, in a 16-bit table left in the memory-mapped checkpoint, widened to float32
 * row by row for the tokens seen (exact; nothing of the table is copied).
 */
public final class TokenEmbedding extends NamedBlock {

    private final Parameter weight;
    private MappedMatrix mapped; // null: the weight parameter

    public TokenEmbedding() {
        this.weight = weightParameter("weight");
    }

    /** Looks rows up in {@code table} (vocab, hidden) instead of the weight parameter, which stays unset. */
    public void useMapped(MappedMatrix table) {
        this.mapped = table;
    }

    /** The mapped table, or null. */
    public MappedMatrix mapped() {
        return mapped;
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray ids = inputs.head();
        if (mapped != null) {
            long[] shape = ids.getShape().getShape();
            long[] outShape = java.util.Arrays.copyOf(shape, shape.length + 1);
            outShape[shape.length] = mapped.cols();
            return new NDList(ids.getManager().create(mapped.gather(ids.toType(ai.djl.ndarray.types.DataType.INT64, false).toLongArray()),
                    new ai.djl.ndarray.types.Shape(outShape)));
        }
        NDArray table = ps.getValue(weight, ids.getDevice(), training);
        return ids.getNDArrayInternal().embedding(ids, table, SparseFormat.DENSE);
    }
}
