package dev.wush.io;

import dev.wush.quant.format.Bf16;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A 2-D 16-bit tensor (bf16 or f16; rows, cols) read in place from a memory-mapped safetensors file
 * and widened to float32 only where and when it is used: an embedding gathers the rows of the tokens
 * it sees, an LM head widens a block of rows at a time. The model then never holds a float32 copy of
 * the table (2.1 GB for Llama-3.1-8B's); only the pages touched are resident. bf16 widens exactly;
 * f16 too. Valid while the checkpoint it came from is open.
 */
public final class MappedMatrix {

    private static final ValueLayout.OfShort BITS = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final String name;
    private final MemorySegment data; // rows × cols × 2 bytes
    private final TensorType type;
    private final long rows;
    private final int cols;

    private MappedMatrix(String name, MemorySegment data, TensorType type, long rows, int cols) {
        this.name = name;
        this.data = data;
        this.type = type;
        this.rows = rows;
        this.cols = cols;
    }

    /** True when {@link #of} can map this tensor: 2-D bf16 or f16. */
    public static boolean supports(TensorInfo info) {
        return info.shape().dimension() == 2 && (info.type() == TensorType.BF16 || info.type() == TensorType.F16);
    }

    /** The tensor {@code name} of {@code checkpoint}, which must stay open while this is used. */
    public static MappedMatrix of(SafeTensorsCheckpoint checkpoint, String name) throws CheckpointException {
        TensorInfo info = checkpoint.info(name);
        if (!supports(info)) {
            throw new CheckpointException(checkpoint.file(name).path() + ": tensor '" + name + "': " + info.type() + " "
                    + info.shape() + " is not a 2-D bf16 or f16 matrix");
        }
        return new MappedMatrix(name, checkpoint.file(name).bytes(name), info.type(), info.shape().get(0),
                Math.toIntExact(info.shape().get(1)));
    }

    public String name() {
        return name;
    }

    public long rows() {
        return rows;
    }

    public int cols() {
        return cols;
    }

    /** Rows {@code ids} as float32, (ids.length, cols) row-major; an id outside the table is an error naming it. */
    public float[] gather(long[] ids) {
        float[] out = new float[Math.multiplyExact(ids.length, cols)];
        short[] bits = new short[cols];
        for (int i = 0; i < ids.length; i++) {
            long id = ids[i];
            if (id < 0 || id >= rows) {
                throw new IllegalArgumentException("token id " + id + " is outside " + name + " (" + rows + " rows)");
            }
            MemorySegment.copy(data, BITS, id * cols * 2, bits, 0, cols);
            widen(bits, out, i * cols, cols);
        }
        return out;
    }

    /** Rows {@code [from, to)} as float32 into {@code dst} (native order), (to − from, cols). */
    public void widenRows(long from, long to, MemorySegment dst) {
        int piece = 1 << 16;
        short[] bits = new short[piece];
        float[] wide = new float[piece];
        long elements = (to - from) * cols;
        long base = from * cols * 2;
        for (long i = 0; i < elements; i += piece) {
            int n = (int) Math.min(piece, elements - i);
            MemorySegment.copy(data, BITS, base + i * 2, bits, 0, n);
            widen(bits, wide, 0, n);
            MemorySegment.copy(wide, 0, dst, ValueLayout.JAVA_FLOAT.withOrder(ByteOrder.nativeOrder()), i * 4, n);
        }
    }

    /** The flat index of the first NaN or infinite element, or −1 when all are finite. */
    public long firstNonFinite() {
        int piece = 1 << 16;
        short[] bits = new short[piece];
        long elements = rows * cols;
        int exponent = type == TensorType.BF16 ? 0x7F80 : 0x7C00; // all-ones exponent: inf or NaN
        for (long i = 0; i < elements; i += piece) {
            int n = (int) Math.min(piece, elements - i);
            MemorySegment.copy(data, BITS, i * 2, bits, 0, n);
            for (int k = 0; k < n; k++) {
                if ((bits[k] & exponent) == exponent) {
                    return i + k;
                }
            }
        }
        return -1;
    }

    private void widen(short[] bits, float[] out, int at, int n) {
        if (type == TensorType.BF16) {
            Bf16.decode(bits, 0, out, at, n);
        } else {
            for (int k = 0; k < n; k++) {
                out[at + k] = Float.float16ToFloat(bits[k]);
            }
        }
    }
}
