package dev.wush.zoo.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.wush.io.MappedMatrix;
import dev.wush.kernel.KernelThreads;
import dev.wush.nn.NamedBlock;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * A bias-free linear {@code y = x Wᵀ} whose 16-bit weight (out, in) stays in the memory-mapped
 * checkpoint and is widened to float32 a block of rows at a time during each forward pass: an LM
 * head of 128256×4096 then costs its 1 GB of mapped bf16, never a 2.1 GB float32 copy. Exact (bf16
 * and f16 widen without rounding); the price is the widening on every call.
 */
public final class MappedLinear extends NamedBlock {

    /** Weight rows widened per piece: 4096 rows of 4096 features are 64 MB of float32. */
    private static final long PIECE_BYTES = 64L << 20;

    private final MappedMatrix weight;

    public MappedLinear(MappedMatrix weight) {
        this.weight = weight;
    }

    /** The mapped weight. */
    public MappedMatrix weight() {
        return weight;
    }

    /** Rows [from, to) into {@code dst}, split among the thread budget's threads. */
    private void widen(long from, long to, MemorySegment dst, int in) {
        KernelThreads.split(to - from, 64L * in, (a, b) -> weight.widenRows(from + a, from + b,
                dst.asSlice(a * in * 4, (b - a) * in * 4)));
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.head();
        int in = weight.cols();
        long[] shape = x.getShape().getShape();
        if (shape[shape.length - 1] != in) {
            throw new IllegalArgumentException(weight.name() + ": expected inputs with " + in + " features, got " + x.getShape());
        }
        long[] outShape = shape.clone();
        outShape[outShape.length - 1] = weight.rows();
        NDManager manager = x.getManager();
        try (NDManager scope = manager.newSubManager()) {
            NDArray rows = x.toType(DataType.FLOAT32, false).reshape(-1, in);
            rows.attach(scope);
            long step = Math.max(1, PIECE_BYTES / (4L * in));
            NDList parts = new NDList();
            try (Arena arena = Arena.ofShared()) { // shared: the cores widen into it together
                MemorySegment piece = arena.allocate(Math.min(step, weight.rows()) * in * 4, 64);
                for (long r = 0; r < weight.rows(); r += step) {
                    long to = Math.min(weight.rows(), r + step);
                    widen(r, to, piece, in);
                    // a view of the arena's memory, used only inside this block
                    NDArray w = scope.create(piece.asSlice(0, (to - r) * in * 4).asByteBuffer().order(ByteOrder.nativeOrder()),
                            new Shape(to - r, in), DataType.FLOAT32);
                    parts.add(rows.matMul(w.transpose()));
                }
            }
            NDArray y = (parts.size() == 1 ? parts.head() : NDArrays.concat(parts, 1)).reshape(new Shape(outShape));
            y.attach(manager);
            return new NDList(y);
        }
    }
}
