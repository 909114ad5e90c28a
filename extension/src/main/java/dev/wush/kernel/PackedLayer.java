package dev.wush.kernel;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import dev.wush.quant.format.Formats;
import dev.wush.quant.format.Fp4Packing;
import dev.wush.quant.format.GroupQuantizer;
import dev.wush.quant.format.Nvfp4;
import dev.wush.quant.format.QuantFormat;
import dev.wush.quant.format.QuantizedMatrix;
import dev.wush.quant.layer.QuantizedLayer;
import dev.wush.quant.transform.TransformKind;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Cleaner;
import java.nio.ByteOrder;

/**
 * A quantized linear layer as it lives in memory for inference: packed 4-bit weight codes (MXFP4/NVFP4
 * in the {@link SplitNibbles} layout the kernels read), one scale
 * byte per group, and the activation-side transforms in float32, all in native memory, nothing
 * dequantized. {@link #forward} computes {@code y = q(x_pad · Tᵀ) · Ŵᵀ} with the packed kernels
 * (W4A4), or {@code (x_pad · Tᵀ) · Ŵᵀ} (W4A16) when activation quantization is off.
 *
 * <p>Kernel width: the kernels take rows of a multiple of 32 features; an NVFP4 layer whose padded
 * width is 16 mod 32 gets one more all-zero group (codes 0, scale code 0 = value 0) and an identity block.
 * INT4 (an analysis format with BF16 scales) has no packed kernels: it keeps its packed codes and
 * 16-bit scales and is multiplied by a plain Java loop.
 *
 * <p>Memory: the native arrays are freed by {@link #close()}; a {@code WushLinear} closes its layer when the
 * {@code NDManager} that owns it (its model's) closes. A layer nobody closes is freed once it is unreachable.
 */
public final class PackedLayer implements AutoCloseable {

    private static final Cleaner CLEANER = Cleaner.create();

    private final String name;
    private final QuantFormat format;
    private final TransformKind kind;
    private final int in;
    private final int out;
    private final int paddedIn;    // p: in padded to the block size
    private final int kernelIn;    // p padded to 32 for the FP4 kernels (= p for INT4)
    private final int d;
    private final boolean quantizeActivations;
    private final Fp4Scales scales; // null for INT4
    private final MemorySegment codes;       // (out, kernelIn/2) bytes
    private final MemorySegment scaleCodes;  // (out, kernelIn/d) bytes; INT4: (out, p/d) shorts
    private final MemorySegment scaleValues; // 256 floats; NULL for INT4
    private final MemorySegment transformsT; // (kernelIn/d or 1, d, d) floats, Tᵀ per block; NULL for the identity
    private final long transformStride;      // floats between blocks' matrices: d·d, or 0 when shared
    private final Fp4Kernels kernels;
    private final Arena arena;
    private final Cleaner.Cleanable cleanable; // frees the arena of a layer that was never closed

    /** Up to this many rows (decoding), W4A4 runs as one fused kernel call per thread. */
    static final int FUSED_ROWS = 4;

    /** Packs {@code layer} for inference with the default kernels ({@link Fp4Kernels#get()}). */
    public static PackedLayer of(QuantizedLayer layer, boolean quantizeActivations) {
        return new PackedLayer(layer, quantizeActivations, Fp4Kernels.get());
    }

    public PackedLayer(QuantizedLayer layer, boolean quantizeActivations, Fp4Kernels kernels) {
        this(layer.name(), layer.format(), layer.transform().kind(), layer.in(), layer.out(), layer.paddedIn(),
                layer.transform().blockSize(), quantizeActivations, kernels);
        QuantizedMatrix w = layer.weight();
        boolean fp4 = scales != null;
        int groups = paddedIn / d;
        int kernelGroups = kernelIn / d;
        byte[] row = new byte[kernelIn / 2];
        for (int o = 0; o < out; o++) {
            java.util.Arrays.fill(row, (byte) 0);
            System.arraycopy(w.packedCodes(), o * paddedIn / 2, row, 0, paddedIn / 2);
            byte[] stored = fp4 ? SplitNibbles.fromStandard(row, 1, kernelIn) : row;
            MemorySegment.copy(stored, 0, codes, JAVA_BYTE, (long) o * kernelIn / 2, kernelIn / 2);
        }
        int[] sc = w.scaleCodes();
        if (fp4) {
            for (int o = 0; o < out; o++) {
                for (int g = 0; g < groups; g++) {
                    scaleCodes.set(JAVA_BYTE, (long) o * kernelGroups + g, (byte) sc[o * groups + g]);
                }
            }
        } else {
            for (int i = 0; i < sc.length; i++) {
                scaleCodes.setAtIndex(JAVA_SHORT, i, (short) sc[i]);
            }
        }
        if (!transformsT.equals(MemorySegment.NULL)) {
            long stored = transformStride == 0 ? 1 : kernelGroups;
            for (int b = 0; b < stored; b++) {
                for (int i = 0; i < d; i++) {
                    for (int j = 0; j < d; j++) {
                        float t = b < groups ? (float) layer.transform().block(b).forward().data[i * d + j] : (i == j ? 1 : 0);
                        transformsT.setAtIndex(JAVA_FLOAT, (long) b * d * d + (long) j * d + i, t); // transposed
                    }
                }
            }
        }
    }

    /** The shape of a layer with zeroed native arrays, which the public constructor and {@link #read} fill. */
    private PackedLayer(String name, QuantFormat format, TransformKind kind, int in, int out, int paddedIn, int d,
            boolean quantizeActivations, Fp4Kernels kernels) {
        this.name = name;
        this.format = format;
        this.kind = kind;
        this.in = in;
        this.out = out;
        this.paddedIn = paddedIn;
        this.d = d;
        this.quantizeActivations = quantizeActivations;
        this.kernels = kernels;
        boolean fp4 = Fp4Scales.supports(format);
        this.kernelIn = fp4 ? (paddedIn + 31) / 32 * 32 : paddedIn;
        this.scales = fp4 ? Fp4Scales.of(format) : null;
        this.arena = Arena.ofShared(); // shared: every kernel thread reads it
        this.cleanable = CLEANER.register(this, new Release(arena));
        int groups = paddedIn / d;
        int kernelGroups = kernelIn / d;
        this.codes = NativeMemory.allocate((long) out * kernelIn / 2, 64, arena); // outside the direct-memory limit
        if (fp4) {
            this.scaleCodes = NativeMemory.allocate((long) out * kernelGroups, 8, arena);
            this.scaleValues = arena.allocateFrom(JAVA_FLOAT, scales.values());
        } else {
            this.scaleCodes = NativeMemory.allocate((long) out * groups * 2, 8, arena);
            this.scaleValues = MemorySegment.NULL;
        }
        if (kind == TransformKind.IDENTITY) {
            this.transformsT = MemorySegment.NULL;
            this.transformStride = 0;
        } else {
            boolean shared = kind == TransformKind.HADAMARD; // the same matrix in every block
            int stored = shared ? 1 : kernelGroups;
            this.transformsT = NativeMemory.allocate((long) stored * d * d * 4, 64, arena);
            this.transformStride = shared ? 0 : (long) d * d;
        }
    }

    /** Closes the arena unless {@link #close()} did; run by the cleaner for a layer that became unreachable open. */
    private record Release(Arena arena) implements Runnable {
        @Override
        public void run() {
            if (arena.scope().isAlive()) {
                arena.close();
            }
        }
    }

    /**
     * Frees the native arrays now. Later calls of {@link #forward} fail with an {@link IllegalStateException}.
     * Closing twice does nothing.
     *
     * @throws IllegalStateException while a kernel is still reading the layer on another thread
     */
    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
        cleanable.clean();
    }

    /** False once {@link #close()} has freed the native arrays. */
    public boolean isOpen() {
        return arena.scope().isAlive();
    }

    /** Native bytes held by packed layers that are not closed yet, over the whole process (for diagnostics). */
    public static long liveNativeBytes() {
        return NativeMemory.liveBytes();
    }

    private void requireOpen() {
        if (!arena.scope().isAlive()) {
            throw new IllegalStateException(name + ": this packed layer has been closed (with the model that owned it)");
        }
    }

    public String name() {
        return name;
    }

    public QuantFormat format() {
        return format;
    }

    public TransformKind transformKind() {
        return kind;
    }

    /** Input features before padding. */
    public int in() {
        return in;
    }

    public int out() {
        return out;
    }

    /** Input features padded to the block size, as stored in checkpoints. */
    public int paddedIn() {
        return paddedIn;
    }

    /** Block size d. */
    public int blockSize() {
        return d;
    }

    public boolean quantizesActivations() {
        return quantizeActivations;
    }

    /** The kernels this layer runs on. */
    public Fp4Kernels kernels() {
        return kernels;
    }

    /**
     * Bits this layer takes in a saved checkpoint: 4-bit codes and scale codes over (out, padded in), the float32
     * transforms of data-aware kinds (identity and Hadamard are rebuilt, not stored) and NVFP4's 32-bit global scale.
     */
    public long checkpointBits() {
        long groups = paddedIn / d;
        long bits = (long) out * paddedIn * 4 + (long) out * groups * format.scaleBits();
        if (kind != TransformKind.IDENTITY && kind != TransformKind.HADAMARD) {
            bits += groups * d * d * 32;
        }
        if (format instanceof Nvfp4) {
            bits += 32;
        }
        return bits;
    }

    /** Bytes this layer keeps in memory: codes, scales, transforms and the scale table. */
    public long residentBytes() {
        return codes.byteSize() + scaleCodes.byteSize() + transformsT.byteSize() + scaleValues.byteSize();
    }

    /**
     * The arrays the kernels read, as read-only native segments: what a device copy of this layer
     * ({@code dev.wush.kernel.cuda.CudaPackedLayer}) uploads. Null for INT4, which has no packed kernels.
     */
    public KernelArrays kernelArrays() {
        if (scales == null) {
            return null;
        }
        return new KernelArrays(kernelIn, codes.asReadOnly(), scaleCodes.asReadOnly(), transformsT.equals(MemorySegment.NULL)
                ? MemorySegment.NULL : transformsT.asReadOnly(), transformStride, scales);
    }

    /**
     * A layer's kernel arrays: codes (out, kernelIn/2) in the split-nibble layout, scale codes (out, kernelIn/d),
     * transposed transforms ({@code NULL} for the identity, one shared matrix when {@code transformStride} is 0).
     */
    public record KernelArrays(int kernelIn, MemorySegment codes, MemorySegment scaleCodes, MemorySegment transformsT,
            long transformStride, Fp4Scales scales) {}

    /** The stored weights, (out, paddedIn), copied out of native memory (for saving). */
    public QuantizedMatrix weight() {
        int groups = paddedIn / d;
        byte[] packed = new byte[out * paddedIn / 2];
        int[] sc = new int[out * groups];
        byte[] row = new byte[kernelIn / 2];
        for (int o = 0; o < out; o++) {
            MemorySegment.copy(codes, JAVA_BYTE, (long) o * kernelIn / 2, row, 0, kernelIn / 2);
            byte[] standard = scales != null ? SplitNibbles.toStandard(row, 1, kernelIn) : row;
            System.arraycopy(standard, 0, packed, o * paddedIn / 2, paddedIn / 2);
            for (int g = 0; g < groups; g++) {
                sc[o * groups + g] = scales != null
                        ? scaleCodes.get(JAVA_BYTE, (long) o * (kernelIn / d) + g) & 0xFF
                        : scaleCodes.getAtIndex(JAVA_SHORT, (long) o * groups + g) & 0xFFFF;
            }
        }
        return new QuantizedMatrix(format, out, paddedIn, packed, sc);
    }

    /** The activation transform of block b, {@code T_b} (d, d) row-major in float32; null for the identity. */
    public float[] transform(int b) {
        if (kind == TransformKind.IDENTITY) {
            return null;
        }
        float[] t = new float[d * d];
        for (int i = 0; i < d; i++) {
            for (int j = 0; j < d; j++) {
                t[i * d + j] = transformsT.getAtIndex(JAVA_FLOAT, b * transformStride + (long) j * d + i);
            }
        }
        return t;
    }

    /** {@code x} (rows, in) float32 to {@code y} (rows, out). */
    public float[] forward(float[] x, int rows) {
        if (x.length != (long) rows * in) {
            throw new IllegalArgumentException(name + ": expected (" + rows + ", " + in + ") inputs, got " + x.length + " values");
        }
        float[] y = new float[rows * out];
        forward(MemorySegment.ofArray(x), rows, MemorySegment.ofArray(y));
        return y;
    }

    /**
     * {@code x} (rows, in) float32 to {@code y} (rows, out) float32, both row-major segments (heap or native,
     * e.g. an engine array's direct buffer): no copies of the activations besides zero padding of x when
     * {@code in} is not a multiple of 32. x is only read.
     */
    public void forward(MemorySegment x, int rows, MemorySegment y) {
        requireOpen();
        if (x.byteSize() < (long) rows * in * 4) {
            throw new IllegalArgumentException(name + ": expected (" + rows + ", " + in + ") float32 inputs, got " + x.byteSize() + " bytes");
        }
        if (y.byteSize() < (long) rows * out * 4) {
            throw new IllegalArgumentException(name + ": output of " + y.byteSize() + " bytes cannot hold (" + rows + ", " + out + ") floats");
        }
        if (canShare(new PackedLayer[] {this}, rows)) { // decoding: quantize + product in one native call per thread
            forwardShared(x, rows, new PackedLayer[] {this}, new MemorySegment[] {y});
            return;
        }
        MemorySegment xs = pad(x, rows);
        if (scales == null) {
            float[] xp = xs.toArray(JAVA_FLOAT); // a copy: INT4 may quantize it in place
            float[] yi = new float[rows * out];
            forwardInt4(xp, rows, yi);
            MemorySegment.copy(yi, 0, y, JAVA_FLOAT, 0, yi.length);
            return;
        }
        if (quantizeActivations) {
            byte[] aCodes = new byte[rows * kernelIn / 2];
            byte[] aScales = new byte[rows * (kernelIn / d)];
            MemorySegment ac = MemorySegment.ofArray(aCodes);
            MemorySegment as = MemorySegment.ofArray(aScales);
            KernelThreads.split(rows, (long) kernelIn * d, (r0, r1) -> kernels.quantizeRows(xs, r0, r1, kernelIn, d, transformsT,
                    transformStride, scales, ac, as));
            // the activation scale table is the weight's: W4A4 uses one format for both operands
            KernelThreads.split(out, (long) rows * kernelIn, (o0, o1) -> kernels.gemmW4A4(ac, as, rows, codes, scaleCodes, o0, o1,
                    kernelIn, d, scaleValues, scaleValues, y, out));
        } else {
            MemorySegment xt = xs;
            if (!transformsT.equals(MemorySegment.NULL)) {
                xt = MemorySegment.ofArray(new float[rows * kernelIn]);
                MemorySegment target = xt;
                KernelThreads.split(rows, (long) kernelIn * d, (r0, r1) -> kernels.transformRows(xs, r0, r1, kernelIn, d, transformsT,
                        transformStride, target));
            }
            MemorySegment xin = xt;
            KernelThreads.split(out, (long) rows * kernelIn, (o0, o1) -> kernels.gemvW4A16(xin, rows, codes, scaleCodes, o0, o1,
                    kernelIn, d, scaleValues, y, out));
        }
    }

    /**
     * Whether {@link #forwardShared} takes these layers for {@code rows} rows: W4A4 FP4 layers with the same
     * number of inputs, decoding-sized (at most {@value #FUSED_ROWS} rows).
     */
    public static boolean canShare(PackedLayer[] layers, int rows) {
        if (rows > FUSED_ROWS || layers.length == 0) {
            return false;
        }
        for (PackedLayer layer : layers) {
            if (!layer.quantizeActivations || layer.scales == null || layer.in != layers[0].in) {
                return false;
            }
        }
        return true;
    }

    /**
     * Several layers that read the same {@code x} (rows, in), e.g. a block's query, key and value projections:
     * {@code ys[i]} (rows, out_i) receives layer i's output, exactly as {@link #forward(MemorySegment, int, MemorySegment)}
     * would write it, but all outputs are shared out over the threads in one fork-join instead of one per layer.
     *
     * @throws IllegalArgumentException unless {@link #canShare} holds
     */
    public static void forwardShared(MemorySegment x, int rows, PackedLayer[] layers, MemorySegment[] ys) {
        if (!canShare(layers, rows) || ys.length != layers.length) {
            throw new IllegalArgumentException("forwardShared takes W4A4 FP4 layers of one input size, " + FUSED_ROWS
                    + " rows at most, and one output per layer");
        }
        int n = layers.length;
        long[] starts = new long[n + 1]; // layer i owns outputs [starts[i], starts[i+1]) of the concatenation
        MemorySegment[] xs = new MemorySegment[n];
        long work = 0;
        for (int i = 0; i < n; i++) {
            PackedLayer l = layers[i];
            l.requireOpen();
            if (x.byteSize() < (long) rows * l.in * 4 || ys[i].byteSize() < (long) rows * l.out * 4) {
                throw new IllegalArgumentException(l.name + ": expected (" + rows + ", " + l.in + ") inputs and (" + rows + ", " + l.out
                        + ") outputs");
            }
            starts[i + 1] = starts[i] + l.out;
            xs[i] = l.pad(x, rows);
            work = Math.max(work, (long) rows * l.kernelIn);
        }
        KernelThreads.split(starts[n], work, (o0, o1) -> {
            for (int i = 0; i < n; i++) {
                long from = Math.max(o0, starts[i]);
                long to = Math.min(o1, starts[i + 1]);
                if (from < to) {
                    PackedLayer l = layers[i];
                    l.kernels.linearW4A4(xs[i], rows, l.kernelIn, l.d, l.transformsT, l.transformStride, l.scales, l.codes, l.scaleCodes,
                            from - starts[i], to - starts[i], l.scaleValues, ys[i], l.out);
                }
            }
        });
    }

    /** The version of the layout {@link #write} produces and {@link #read} accepts. */
    public static final int STREAM_VERSION = 1;

    /**
     * Writes this layer exactly as it lives in memory, so that {@link #read} gives a layer computing bit-identical
     * outputs: shape, format, transform kind and activation mode, then the codes (split-nibble layout), scale codes
     * and transposed transforms. Multi-byte values are little-endian.
     */
    public void write(DataOutputStream os) throws IOException {
        requireOpen();
        os.writeInt(STREAM_VERSION);
        os.writeUTF(name);
        os.writeUTF(Formats.label(format));
        os.writeFloat(format instanceof Nvfp4 nv ? nv.globalScale() : 0f);
        os.writeUTF(kind.label());
        os.writeInt(in);
        os.writeInt(out);
        os.writeInt(paddedIn);
        os.writeInt(d);
        os.writeBoolean(quantizeActivations);
        writeSegment(os, codes, JAVA_BYTE);
        writeSegment(os, scaleCodes, scales != null ? JAVA_BYTE : JAVA_SHORT);
        if (!transformsT.equals(MemorySegment.NULL)) {
            writeSegment(os, transformsT, JAVA_FLOAT);
        }
    }

    /**
     * Reads a layer {@link #write} wrote, with the default kernels. Every field is checked: a corrupt or foreign stream
     * gives an {@link IOException} naming what is wrong, never a layer computing garbage.
     */
    public static PackedLayer read(DataInputStream is) throws IOException {
        int version = is.readInt();
        if (version != STREAM_VERSION) {
            throw new IOException("packed layer stream version " + version + "; this library reads version " + STREAM_VERSION);
        }
        String name = is.readUTF();
        QuantFormat format;
        String label = is.readUTF();
        float global = is.readFloat();
        TransformKind kind;
        try {
            format = Formats.parse(label);
            kind = TransformKind.parse(is.readUTF());
        } catch (IllegalArgumentException e) {
            throw new IOException(name + ": " + e.getMessage(), e);
        }
        if (format instanceof Nvfp4) {
            if (!(global > 0) || !Float.isFinite(global)) {
                throw new IOException(name + ": NVFP4 global scale " + global + " is not a positive finite number");
            }
            format = new Nvfp4(global, label.equals("nvfp4"));
        }
        int in = is.readInt();
        int out = is.readInt();
        int paddedIn = is.readInt();
        int d = is.readInt();
        boolean quantizeActivations = is.readBoolean();
        if (d != format.groupSize() || in <= 0 || out <= 0 || paddedIn != (in + d - 1) / d * d) {
            throw new IOException(name + ": inconsistent shape: in " + in + ", out " + out + ", padded " + paddedIn + ", block " + d
                    + " (" + label + " groups of " + format.groupSize() + ")");
        }
        PackedLayer layer = new PackedLayer(name, format, kind, in, out, paddedIn, d, quantizeActivations, Fp4Kernels.get());
        try {
            readSegment(is, layer.codes, JAVA_BYTE);
            readSegment(is, layer.scaleCodes, layer.scales != null ? JAVA_BYTE : JAVA_SHORT);
            if (!layer.transformsT.equals(MemorySegment.NULL)) {
                readSegment(is, layer.transformsT, JAVA_FLOAT);
            }
            layer.validate();
        } catch (IOException | RuntimeException e) {
            layer.close();
            throw e;
        }
        return layer;
    }

    /** Scale codes that stand for finite values ≥ 0, finite transforms, zero padding where the kernels expect it. */
    private void validate() throws IOException {
        int groups = paddedIn / d;
        int kernelGroups = kernelIn / d;
        for (long o = 0; o < out; o++) {
            for (int g = 0; g < (scales != null ? kernelGroups : groups); g++) {
                int code = scales != null ? scaleCodes.get(JAVA_BYTE, o * kernelGroups + g) & 0xFF
                        : scaleCodes.getAtIndex(JAVA_SHORT, o * groups + g) & 0xFFFF;
                float v = format.scaleValue(code);
                if (!(v >= 0) || !Float.isFinite(v) || (g >= groups && code != 0)) {
                    throw new IOException(name + ": row " + o + ", group " + g + " has scale code " + code
                            + (g >= groups ? " in the kernels' zero padding" : ", which stands for " + v + " (scales must be finite and ≥ 0)"));
                }
            }
        }
        if (!transformsT.equals(MemorySegment.NULL)) {
            for (long i = 0; i < transformsT.byteSize() / 4; i++) {
                if (!Float.isFinite(transformsT.getAtIndex(JAVA_FLOAT, i))) {
                    throw new IOException(name + ": transform value " + i + " is " + transformsT.getAtIndex(JAVA_FLOAT, i));
                }
            }
        }
    }

    private static final int CHUNK = 1 << 20;

    /** The segment's elements little-endian, in chunks (DJL's parameter streams are not buffered). */
    private static void writeSegment(DataOutputStream os, MemorySegment segment, ValueLayout element) throws IOException {
        os.writeLong(segment.byteSize());
        byte[] chunk = new byte[(int) Math.min(CHUNK, segment.byteSize())];
        MemorySegment heap = MemorySegment.ofArray(chunk);
        ValueLayout little = element.withOrder(ByteOrder.LITTLE_ENDIAN).withByteAlignment(1);
        for (long off = 0; off < segment.byteSize(); off += chunk.length) {
            int n = (int) Math.min(chunk.length, segment.byteSize() - off);
            MemorySegment.copy(segment, element, off, heap, little, 0, n / element.byteSize());
            os.write(chunk, 0, n);
        }
    }

    private static void readSegment(DataInputStream is, MemorySegment segment, ValueLayout element) throws IOException {
        long bytes = is.readLong();
        if (bytes != segment.byteSize()) {
            throw new IOException("an array of " + bytes + " bytes where the layer's shape needs " + segment.byteSize());
        }
        byte[] chunk = new byte[(int) Math.min(CHUNK, bytes)];
        MemorySegment heap = MemorySegment.ofArray(chunk);
        ValueLayout little = element.withOrder(ByteOrder.LITTLE_ENDIAN).withByteAlignment(1);
        for (long off = 0; off < bytes; off += chunk.length) {
            int n = (int) Math.min(chunk.length, bytes - off);
            is.readFully(chunk, 0, n);
            MemorySegment.copy(heap, little, 0, segment, element, off, n / element.byteSize());
        }
    }

    /** x itself when rows need no padding, else a zero-padded (rows, kernelIn) copy. */
    private MemorySegment pad(MemorySegment x, int rows) {
        if (in == kernelIn) {
            return x;
        }
        float[] xp = new float[rows * kernelIn];
        for (int r = 0; r < rows; r++) {
            MemorySegment.copy(x, JAVA_FLOAT, (long) r * in * 4, xp, r * kernelIn, in);
        }
        return MemorySegment.ofArray(xp);
    }

    /** INT4: transform, optional fake quantization (in place on xp), then a Java dot product with the decoded weights. */
    private void forwardInt4(float[] xp, int rows, float[] y) {
        float[] xt = xp;
        if (!transformsT.equals(MemorySegment.NULL)) {
            xt = new float[xp.length];
            kernels.transformRows(MemorySegment.ofArray(xp), 0, rows, paddedIn, d, transformsT, transformStride, MemorySegment.ofArray(xt));
        }
        if (quantizeActivations) {
            GroupQuantizer.fakeQuantize(format, xt, rows, paddedIn);
        }
        float[] xq = xt;
        int groups = paddedIn / d;
        KernelThreads.split(out, (long) rows * paddedIn, (o0, o1) -> {
            float[] w = new float[paddedIn];
            byte[] packed = new byte[paddedIn / 2];
            for (long o = o0; o < o1; o++) {
                MemorySegment.copy(codes, JAVA_BYTE, o * paddedIn / 2, packed, 0, paddedIn / 2);
                byte[] c = Fp4Packing.unpack(packed, paddedIn);
                for (int k = 0; k < paddedIn; k++) {
                    float s = format.scaleValue(scaleCodes.getAtIndex(JAVA_SHORT, o * groups + k / d) & 0xFFFF);
                    w[k] = format.decode(c[k], s);
                }
                for (int r = 0; r < rows; r++) {
                    float acc = 0;
                    for (int k = 0; k < paddedIn; k++) {
                        acc += xq[r * paddedIn + k] * w[k];
                    }
                    y[r * out + (int) o] = acc;
                }
            }
        });
    }
}
