package dev.wush.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.wush.quant.format.Bf16;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One memory-mapped safetensors file: an 8-byte little-endian header length, a JSON header, then the
 * raw tensor data. Tensors are read straight from the mapping, one at a time; the file is never
 * copied whole.
 */
public final class SafeTensorsFile implements AutoCloseable {

    /** Headers larger than this are rejected as corrupt (the reference implementation uses 100 MB). */
    static final long MAX_HEADER_BYTES = 100L << 20;

    private final Path path;
    private final Arena arena;
    private final MemorySegment data; // the data section, after the header
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    private SafeTensorsFile(
            Path path,
            Arena arena,
            MemorySegment data,
            Map<String, TensorInfo> tensors,
            Map<String, String> metadata) {
        this.path = path;
        this.arena = arena;
        this.data = data;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Maps a safetensors file and validates its header against the file size. */
    public static SafeTensorsFile open(Path path) throws IOException {
        if (!Files.isRegularFile(path)) {
            throw CheckpointException.of(path, null, "no such file");
        }
        Arena arena = Arena.ofShared();
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            long fileSize = channel.size();
            if (fileSize < 8) {
                throw CheckpointException.of(
                        path, null, "truncated: " + fileSize + " bytes, no header length");
            }
            MemorySegment file = channel.map(FileChannel.MapMode.READ_ONLY, 0, fileSize, arena);
            long headerBytes = file.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
            if (headerBytes <= 0 || headerBytes > MAX_HEADER_BYTES) {
                throw CheckpointException.of(
                        path, null, "bad header: header length " + headerBytes + " is not plausible");
            }
            if (8 + headerBytes > fileSize) {
                throw CheckpointException.of(
                        path,
                        null,
                        "truncated: header says "
                                + headerBytes
                                + " header bytes but the file has "
                                + fileSize);
            }
            byte[] header = file.asSlice(8, headerBytes).toArray(ValueLayout.JAVA_BYTE);
            MemorySegment data = file.asSlice(8 + headerBytes);
            Map<String, String> metadata = new LinkedHashMap<>();
            Map<String, TensorInfo> tensors = parseHeader(path, header, data.byteSize(), metadata);
            return new SafeTensorsFile(path, arena, data, tensors, metadata);
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Parses and validates the header as the safetensors reference implementation does: a UTF-8 JSON
     * object starting with '{', an optional string-to-string {@code __metadata__}, and per tensor a
     * supported dtype, a shape of non-negative integers and two integer {@code data_offsets} whose
     * byte count matches the shape. Sorted by offset, the tensors must tile the data section exactly:
     * no overlap, no gap, nothing after the last one.
     */
    static Map<String, TensorInfo> parseHeader(
            Path path, byte[] header, long dataBytes, Map<String, String> metadata)
            throws CheckpointException {
        String text;
        try {
            text = TextFiles.decode(header, path + ": bad header").stripTrailing();
        } catch (IOException e) {
            throw new CheckpointException(e.getMessage());
        }
        if (!text.startsWith("{")) {
            throw CheckpointException.of(path, null, "bad header: does not start with '{'");
        }
        JsonObject root = JsonFiles.object(JsonFiles.parse(text, path + ": bad header"), path + ": bad header");
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : root.entrySet()) {
            String name = e.getKey();
            if ("__metadata__".equals(name)) {
                parseMetadata(path, e.getValue(), metadata);
                continue;
            }
            tensors.put(name, parseEntry(path, name, e.getValue(), dataBytes));
        }
        checkTiling(path, tensors.values(), dataBytes);
        return Collections.unmodifiableMap(tensors);
    }

    private static void parseMetadata(Path path, JsonElement value, Map<String, String> metadata)
            throws CheckpointException {
        if (!value.isJsonObject()) {
            throw CheckpointException.of(path, null, "bad header: __metadata__ is " + JsonFiles.kind(value) + ", not an object");
        }
        for (Map.Entry<String, JsonElement> m : value.getAsJsonObject().entrySet()) {
            JsonElement v = m.getValue();
            if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isString()) {
                throw CheckpointException.of(path, null, "bad header: __metadata__." + m.getKey() + " is "
                        + JsonFiles.kind(v) + ", not a string");
            }
            metadata.put(m.getKey(), v.getAsString());
        }
    }

    private static TensorInfo parseEntry(Path path, String name, JsonElement value, long dataBytes)
            throws CheckpointException {
        if (!value.isJsonObject()) {
            throw CheckpointException.of(path, name, "bad header: entry is " + JsonFiles.kind(value) + ", not an object");
        }
        JsonObject o = value.getAsJsonObject();
        JsonElement dtypeValue = o.get("dtype");
        if (dtypeValue == null || !dtypeValue.isJsonPrimitive() || !dtypeValue.getAsJsonPrimitive().isString()) {
            throw CheckpointException.of(path, name, "bad header: dtype is " + JsonFiles.kind(dtypeValue) + ", not a string");
        }
        String dtype = dtypeValue.getAsString();
        TensorType type = TensorType.parse(dtype);
        if (type == null) {
            throw CheckpointException.of(path, name, "unsupported dtype " + dtype);
        }
        long[] shape = integers(path, name, "shape", o.get("shape"), -1);
        long elements = 1;
        for (long d : shape) {
            elements = multiply(path, name, elements, d);
        }
        long[] offsets = integers(path, name, "data_offsets", o.get("data_offsets"), 2);
        long begin = offsets[0];
        long end = offsets[1];
        if (end < begin) {
            throw CheckpointException.of(path, name, "bad header: data_offsets [" + begin + ", " + end + "] end before they begin");
        }
        if (end - begin != multiply(path, name, elements, type.bytes())) {
            throw CheckpointException.of(path, name, "bad header: " + (end - begin) + " bytes for shape "
                    + new Shape(shape) + " of " + dtype);
        }
        if (end > dataBytes) {
            throw CheckpointException.of(path, name, "truncated: tensor ends at data byte " + end
                    + " but the file holds " + dataBytes + " data bytes");
        }
        return new TensorInfo(name, type, new Shape(shape), begin, end);
    }

    /** A JSON array of non-negative whole numbers ({@code length} of them, or any number when negative). */
    private static long[] integers(Path path, String name, String field, JsonElement value, int length)
            throws CheckpointException {
        if (value == null || !value.isJsonArray() || (length >= 0 && value.getAsJsonArray().size() != length)) {
            throw CheckpointException.of(path, name, "bad header: " + field + " must be an array of "
                    + (length >= 0 ? length + " " : "") + "non-negative integers, found " + value);
        }
        JsonArray array = value.getAsJsonArray();
        long[] out = new long[array.size()];
        for (int i = 0; i < out.length; i++) {
            Long v = JsonFiles.exactLong(array.get(i));
            if (v == null || v < 0) {
                throw CheckpointException.of(path, name, "bad header: " + field + " must be an array of "
                        + "non-negative integers, found " + value);
            }
            out[i] = v;
        }
        return out;
    }

    private static long multiply(Path path, String name, long a, long b) throws CheckpointException {
        try {
            return Math.multiplyExact(a, b);
        } catch (ArithmeticException e) {
            throw CheckpointException.of(path, name, "bad header: shape too large");
        }
    }

    /** Sorted by offset, the tensors must cover [0, dataBytes) exactly once. */
    private static void checkTiling(Path path, Collection<TensorInfo> tensors, long dataBytes) throws CheckpointException {
        List<TensorInfo> sorted = new ArrayList<>(tensors);
        sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        long covered = 0;
        TensorInfo previous = null;
        for (TensorInfo t : sorted) {
            if (t.begin() < covered) {
                throw CheckpointException.of(path, t.name(), "bad header: data_offsets [" + t.begin() + ", " + t.end()
                        + "] overlap tensor '" + previous.name() + "' [" + previous.begin() + ", " + previous.end() + "]");
            }
            if (t.begin() > covered) {
                throw CheckpointException.of(path, t.name(), "bad header: data_offsets [" + t.begin() + ", " + t.end()
                        + "] leave a gap of " + (t.begin() - covered) + " bytes before this tensor");
            }
            covered = t.end();
            previous = t;
        }
        if (covered != dataBytes) {
            throw CheckpointException.of(path, null, "bad header: the tensors cover " + covered + " data bytes but the file holds "
                    + dataBytes + " (" + (dataBytes - covered) + " bytes after the last tensor)");
        }
    }

    /** The file this was mapped from. */
    public Path path() {
        return path;
    }

    /** Tensors in header order. */
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    /** The optional string-to-string {@code __metadata__} of the header. */
    public Map<String, String> metadata() {
        return Collections.unmodifiableMap(metadata);
    }

    /** Header entry of a tensor, or an error naming the file and tensor. */
    public TensorInfo info(String name) throws CheckpointException {
        TensorInfo info = tensors.get(name);
        if (info == null) {
            throw CheckpointException.of(path, name, "missing tensor");
        }
        return info;
    }

    /** The raw bytes of a tensor, a view of the mapping (valid until this file is closed). */
    public MemorySegment bytes(String name) throws CheckpointException {
        TensorInfo info = info(name);
        return data.asSlice(info.begin(), info.byteSize());
    }

    /**
     * Reads a tensor into a new array owned by {@code manager}, converted to {@code target}.
     *
     * @param expected the shape the caller needs, or null to accept any
     */
    public NDArray load(NDManager manager, String name, Shape expected, DataType target)
            throws CheckpointException {
        TensorInfo info = info(name);
        if (expected != null && !expected.equals(info.shape())) {
            throw CheckpointException.of(
                    path, name, "shape " + info.shape() + " but the model needs " + expected);
        }
        if (info.type() == TensorType.BF16 && target == DataType.BFLOAT16) {
            // DJL 0.35.1's PyTorch JNI aborts the process on any bfloat16 tensor, so bf16 is widened
            // (exactly: bf16 is the top half of an fp32) and narrowed by torch if asked to.
            throw CheckpointException.of(path, name, "bfloat16 arrays are not supported by DJL's PyTorch"
                    + " engine 0.35.1; load as float32 or float16");
        }
        Shape shape = info.shape();
        long rows = shape.dimension() == 0 ? 1 : shape.get(0);
        long perRow = rows == 0 ? 0 : shape.size() / rows;
        long chunkRows = Math.max(1, LOAD_CHUNK_BYTES / Math.max(1, perRow * 4));
        if (rows <= chunkRows) {
            NDArray out = loadRows(manager, info, 0, rows, target);
            release(name);
            return out;
        }
        // a large tensor (an embedding of over 2 GiB included) is converted in row blocks into its place
        NDArray out = manager.zeros(shape, target);
        try {
            for (long r = 0; r < rows; r += chunkRows) {
                long to = Math.min(rows, r + chunkRows);
                try (NDArray part = loadRows(manager, info, r, to, target)) {
                    out.set(new NDIndex(r + ":" + to), part);
                }
                release(info, r * perRow * info.type().bytes(), (to - r) * perRow * info.type().bytes());
            }
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return out;
    }

    /**
     * Drops the pages of a tensor from this process's resident memory (they stay in the page cache and
     * are read again if touched): reading a model block by block then keeps one block of the file
     * resident, not every block read so far. Called by {@link #load}; callers of {@link #bytes} call it
     * when done with the view. True when the system took the advice (Linux), false where it is not
     * available or the tensor is empty.
     */
    public boolean release(String name) throws CheckpointException {
        TensorInfo info = info(name);
        return release(info, 0, info.byteSize());
    }

    private boolean release(TensorInfo info, long from, long bytes) {
        return PageRelease.dontNeed(data.asSlice(info.begin() + from, bytes));
    }

    /** Bytes converted per piece when a tensor is loaded in row blocks. */
    static final long LOAD_CHUNK_BYTES = 64L << 20;

    /** Rows {@code from .. to} of a tensor as a new array of {@code target} that owns its memory. */
    private NDArray loadRows(NDManager manager, TensorInfo info, long from, long to, DataType target) {
        Shape shape = info.shape();
        long perRow = shape.dimension() == 0 ? 1 : (shape.get(0) == 0 ? 0 : shape.size() / shape.get(0));
        Shape part = shape.dimension() == 0 ? shape : new Shape(concat(to - from, shape.slice(1).getShape()));
        long elements = (to - from) * perRow;
        MemorySegment raw = data.asSlice(info.begin() + from * perRow * info.type().bytes(), elements * info.type().bytes());
        if (info.type() == TensorType.BF16) {
            try (Arena scratch = Arena.ofConfined()) { // freed now, not when a collector gets to a direct buffer
                MemorySegment wide = scratch.allocate(elements * 4, 4);
                widenBf16(raw, wide, elements);
                try (NDArray view = manager.create(wide.asByteBuffer().order(ByteOrder.nativeOrder()), part, DataType.FLOAT32)) {
                    return target == DataType.FLOAT32 ? view.duplicate() : view.toType(target, false);
                }
            }
        }
        ByteBuffer bytes = raw.asByteBuffer().order(ByteOrder.nativeOrder());
        // from_blob views the read-only mapping; clone/convert copies it into tensor memory, so the
        // result never aliases the file (torch's to() with an unchanged dtype would).
        try (NDArray view = manager.create(bytes, part, info.type().dataType())) {
            return view.getDataType() == target ? view.duplicate() : view.toType(target, false);
        }
    }

    /**
     * bf16 (little-endian, {@code raw}) to float32 bits (native order, {@code wide}): the bf16 bits are
     * the float's top half, so widening is exact. In bulk pieces through heap arrays, which the JIT
     * vectorises, rather than element by element through segment accessors.
     */
    static void widenBf16(MemorySegment raw, MemorySegment wide, long elements) {
        ValueLayout.OfShort in = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        ValueLayout.OfFloat out = ValueLayout.JAVA_FLOAT.withOrder(ByteOrder.nativeOrder());
        int piece = (int) Math.min(elements, 1 << 16);
        short[] bits = new short[piece];
        float[] floats = new float[piece];
        for (long i = 0; i < elements; i += piece) {
            int n = (int) Math.min(piece, elements - i);
            MemorySegment.copy(raw, in, i * 2, bits, 0, n);
            Bf16.decode(bits, 0, floats, 0, n);
            MemorySegment.copy(floats, 0, wide, out, i * 4, n);
        }
    }

    private static long[] concat(long first, long[] rest) {
        long[] all = new long[rest.length + 1];
        all[0] = first;
        System.arraycopy(rest, 0, all, 1, rest.length);
        return all;
    }

    @Override
    public void close() {
        arena.close();
    }

    @Override
    public String toString() {
        return "SafeTensorsFile[" + path + ", " + tensors.size() + " tensors]";
    }
}
