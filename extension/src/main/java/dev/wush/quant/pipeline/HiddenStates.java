package dev.wush.quant.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.wush.quant.format.Bf16;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The calibration hidden states between two decoder blocks: one (b, L, hidden) array per batch of
 * windows, owned by a manager, held in a {@link HiddenPrecision}. A block runs on each batch widened
 * back to the compute type (float32), one batch at a time.
 *
 * <p>bfloat16 is rounded to nearest even here and its 16-bit patterns kept in a 16-bit engine array
 * that only ever copies them (DJL 0.35.1's PyTorch binding aborts on bfloat16 and int16 tensors), then
 * widened exactly; float16 is the engine's own
 * conversion, and a value beyond its range is an error naming the block, never a silent infinity.
 */
final class HiddenStates implements AutoCloseable {

    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT.withOrder(ByteOrder.nativeOrder());
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.nativeOrder());

    private final HiddenPrecision precision;
    private final NDManager manager;
    private final List<NDArray> batches = new ArrayList<>();
    private DataType computeType;

    HiddenStates(HiddenPrecision precision, NDManager manager) {
        this.precision = precision;
        this.manager = manager;
    }

    /** The type blocks compute in: that of the first batch added. */
    DataType computeType() {
        return computeType;
    }

    /** Takes {@code h} (b, L, hidden), the input of {@code where} (for errors), and holds it in this precision. */
    void add(NDArray h, String where) {
        if (computeType == null) {
            computeType = h.getDataType();
        }
        NDArray held = switch (precision) {
            case FLOAT32 -> h;
            case BFLOAT16 -> toBf16Bits(h);
            case FLOAT16 -> toFloat16(h, where);
        };
        if (held != h) {
            h.close();
        }
        held.attach(manager);
        batches.add(held);
    }

    /** Runs {@code use} on each batch in the compute type; the states stay. */
    void forEach(Consumer<NDArray> use) {
        for (NDArray held : batches) {
            use(held, use);
        }
    }

    /** Runs {@code use} on each batch in the compute type, freeing each batch after its use. */
    void drain(Consumer<NDArray> use) {
        for (NDArray held : batches) {
            use(held, use);
            held.close();
        }
        batches.clear();
    }

    private void use(NDArray held, Consumer<NDArray> use) {
        if (precision == HiddenPrecision.FLOAT32) {
            use.accept(held);
            return;
        }
        try (NDManager scratch = manager.newSubManager()) {
            NDArray wide = precision == HiddenPrecision.BFLOAT16 ? fromBf16Bits(held, scratch) : held.toType(computeType, true);
            wide.attach(scratch);
            use.accept(wide);
        }
    }

    @Override
    public void close() {
        batches.forEach(NDArray::close);
        batches.clear();
    }

    /** bfloat16 bit patterns of {@code h} (same shape, in a float16-typed array), rounded to nearest even. */
    private static NDArray toBf16Bits(NDArray h) {
        Shape shape = h.getShape();
        int n = Math.toIntExact(shape.size());
        float[] values;
        try (NDArray f = h.toType(DataType.FLOAT32, false)) {
            values = f.toFloatArray();
        }
        short[] bits = new short[n];
        Bf16.encode(values, 0, bits, 0, n);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(2L * n, 2);
            MemorySegment.copy(bits, 0, seg, SHORT, 0, n);
            try (NDArray view = h.getManager().create(seg.asByteBuffer().order(ByteOrder.nativeOrder()), shape, DataType.FLOAT16)) {
                return view.duplicate(); // owns its memory; the view only borrowed the arena's
            }
        }
    }

    /** The float32 values of bfloat16 bit patterns, then in the compute type. */
    private NDArray fromBf16Bits(NDArray held, NDManager into) {
        Shape shape = held.getShape();
        int n = Math.toIntExact(shape.size());
        short[] bits = new short[n];
        held.toByteBuffer().order(ByteOrder.nativeOrder()).asShortBuffer().get(bits);
        float[] values = new float[n];
        Bf16.decode(bits, 0, values, 0, n);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(4L * n, 4);
            MemorySegment.copy(values, 0, seg, FLOAT, 0, n);
            try (NDArray view = into.create(seg.asByteBuffer().order(ByteOrder.nativeOrder()), shape, DataType.FLOAT32)) {
                return computeType == DataType.FLOAT32 ? view.duplicate() : view.toType(computeType, true);
            }
        }
    }

    private static NDArray toFloat16(NDArray h, String where) {
        NDArray half = h.toType(DataType.FLOAT16, true);
        boolean overflow;
        try (NDArray inf = half.isInfinite(); NDArray any = inf.any(); NDArray wasInf = h.isInfinite(); NDArray wasAny = wasInf.any()) {
            overflow = any.getBoolean() && !wasAny.getBoolean();
        }
        if (overflow) {
            float max;
            try (NDArray abs = h.abs(); NDArray m = abs.max(); NDArray f = m.toType(DataType.FLOAT32, false)) {
                max = f.getFloat();
            }
            half.close();
            throw new IllegalStateException("the calibration hidden states entering " + where + " reach |x| = " + max
                    + ", beyond float16's range (65504); hold them in bf16 or float32");
        }
        return half;
    }
}
