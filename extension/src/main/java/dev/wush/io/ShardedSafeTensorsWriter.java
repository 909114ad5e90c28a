package dev.wush.io;

import ai.djl.ndarray.types.Shape;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Streams the weights of a model directory into safetensors shards without holding them. Tensors are
 * written one after another, each in as many pieces as the caller likes, so a tensor of any size (over
 * 2 GiB included) passes through a small buffer. Either every tensor is declared up front (name, type,
 * shape: {@link #ShardedSafeTensorsWriter(Path, List, long, Map)}), or each is declared just before its
 * bytes ({@link #open} and {@link #declare}), as a quantizer that learns a block's tensors only once it
 * has quantized that block needs.
 *
 * <p>Shards fill in declaration order up to {@code maxShardBytes} of data (a larger tensor gets a
 * shard of its own). Each shard's header is written when the shard is complete, into space reserved
 * before its data (padded with spaces, as safetensors allows), so nothing is written twice. One shard
 * becomes {@code model.safetensors}; several become {@code model-00001-of-0000N.safetensors} with
 * {@code model.safetensors.index.json}, the Hugging Face layout (shards are renamed when N is known).
 * Files go straight into {@code dir}, which should be the staging directory of an
 * {@link OutputDirectory}: the directory swap makes the result appear whole.
 */
public final class ShardedSafeTensorsWriter implements AutoCloseable {

    /** One declared tensor. */
    public record Spec(String name, TensorType type, Shape shape) {

        /** Bytes of its data. */
        public long byteSize() {
            return Math.multiplyExact(shape.size(), type.bytes());
        }
    }

    private record Placed(Spec spec, int shard, long begin) {}

    private final Path dir;
    private final long maxShardBytes;
    private final long headerReserve; // bytes after the length prefix and before the data; 0: exact (all declared)
    private final List<Placed> placed = new ArrayList<>();
    private final List<List<Placed>> shards = new ArrayList<>();
    private final java.util.Set<String> names = new java.util.HashSet<>();
    private final Map<String, String> metadata;
    private long shardBytes;    // data bytes placed in the last shard
    private int next;           // index into placed of the tensor being written
    private long writtenOfNext; // bytes of it written so far
    private FileChannel channel;
    private int openShard = -1;
    private long reservedOfOpen;
    private boolean finished;
    private final ByteBuffer buffer = ByteBuffer.allocateDirect(1 << 20);

    /**
     * A writer of tensors all declared now.
     *
     * @param tensors in the order their data will be written
     * @param maxShardBytes data bytes per shard at most (5 GB is the hub's usual limit)
     * @param metadata the {@code __metadata__} of every shard, e.g. {@code format: pt}
     */
    public ShardedSafeTensorsWriter(Path dir, List<Spec> tensors, long maxShardBytes, Map<String, String> metadata) {
        this(dir, maxShardBytes, metadata, 0);
        if (tensors.isEmpty()) {
            throw new IllegalArgumentException("no tensors to write");
        }
        tensors.forEach(this::declare);
    }

    private ShardedSafeTensorsWriter(Path dir, long maxShardBytes, Map<String, String> metadata, long headerReserve) {
        this.dir = dir;
        this.maxShardBytes = maxShardBytes;
        this.metadata = new java.util.TreeMap<>(metadata); // sorted: the same bytes on every run (Map.of iterates in a per-JVM order)
        this.headerReserve = headerReserve;
    }

    /**
     * A writer whose tensors are declared one at a time with {@link #declare}, each before its bytes.
     * Every shard reserves room for the header of {@code possible}: every tensor that may be written
     * (a superset is fine), so that any shard's header fits.
     */
    public static ShardedSafeTensorsWriter open(Path dir, long maxShardBytes, Map<String, String> metadata, List<Spec> possible) {
        return new ShardedSafeTensorsWriter(dir, maxShardBytes, metadata, headerBound(metadata, possible));
    }

    /**
     * Declares the next tensor; its bytes follow all tensors declared before it. It goes into the
     * current shard unless that would exceed the shard limit.
     */
    public void declare(Spec spec) {
        if (finished) {
            throw new IllegalStateException("tensor '" + spec.name() + "' declared after finish()");
        }
        if (!names.add(spec.name())) {
            throw new IllegalArgumentException("tensor '" + spec.name() + "' declared twice");
        }
        long bytes = spec.byteSize();
        if (shards.isEmpty() || (!shards.getLast().isEmpty() && shardBytes + bytes > maxShardBytes)) {
            shards.add(new ArrayList<>());
            shardBytes = 0;
        }
        Placed p = new Placed(spec, shards.size() - 1, shardBytes);
        shards.getLast().add(p);
        placed.add(p);
        shardBytes += bytes;
    }

    /** A header length that any header of a subset of {@code specs}, at any offsets, stays within. */
    static long headerBound(Map<String, String> metadata, List<Spec> specs) {
        return header(metadata, specs, Long.MAX_VALUE / 2).length + 8;
    }

    /** Names of the shard files, in order (known once all tensors are declared). */
    public List<String> shardNames() {
        int n = shards.size();
        List<String> result = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            result.add(n == 1 ? SafeTensorsCheckpoint.SINGLE_FILE : String.format("model-%05d-of-%05d.safetensors", i + 1, n));
        }
        return result;
    }

    private Path partialFile(int shard) {
        return dir.resolve(String.format(".shard-%05d.partial", shard + 1));
    }

    /** The next tensor whose bytes are expected, or null when all are written. */
    public Spec expected() {
        return next < placed.size() ? placed.get(next).spec() : null;
    }

    /**
     * Appends bytes (little-endian elements) of the tensor {@code name}, which must be the next one
     * declared; a tensor may come in any number of pieces.
     */
    public void write(String name, ByteBuffer bytes) throws IOException {
        Spec spec = expected();
        if (spec == null || !spec.name().equals(name)) {
            throw new IllegalStateException("tensor '" + name + "' written out of order; expected "
                    + (spec == null ? "no more tensors" : "'" + spec.name() + "'"));
        }
        if (writtenOfNext + bytes.remaining() > spec.byteSize()) {
            throw new IllegalArgumentException("tensor '" + name + "': more than its " + spec.byteSize() + " bytes");
        }
        ensureShard(placed.get(next).shard());
        writtenOfNext += bytes.remaining();
        while (bytes.hasRemaining()) {
            if (!buffer.hasRemaining()) {
                flush();
            }
            int n = Math.min(buffer.remaining(), bytes.remaining());
            ByteBuffer slice = bytes.slice(bytes.position(), n);
            buffer.put(slice);
            bytes.position(bytes.position() + n);
        }
        if (writtenOfNext == spec.byteSize()) {
            next++;
            writtenOfNext = 0;
        }
    }

    /** Appends bytes from native memory (a view of another checkpoint's mapping, say), of any size. */
    public void write(String name, java.lang.foreign.MemorySegment bytes) throws IOException {
        long step = 64L << 20;
        for (long at = 0; at < bytes.byteSize(); at += step) {
            write(name, bytes.asSlice(at, Math.min(step, bytes.byteSize() - at)).asByteBuffer());
        }
        if (bytes.byteSize() == 0) {
            write(name, ByteBuffer.allocate(0));
        }
    }

    /** Writes the whole tensor at once. */
    public void write(String name, byte[] bytes) throws IOException {
        write(name, ByteBuffer.wrap(bytes));
    }

    private void ensureShard(int shard) throws IOException {
        if (shard == openShard) {
            return;
        }
        closeShard();
        channel = FileChannel.open(partialFile(shard), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        openShard = shard;
        reservedOfOpen = headerReserve > 0 ? headerReserve : header(metadata, specs(shard), 0).length;
        channel.position(8 + reservedOfOpen); // the header goes in front when the shard is complete
    }

    private List<Spec> specs(int shard) {
        return shards.get(shard).stream().map(Placed::spec).toList();
    }

    /**
     * The header of one file holding {@code tensors} back to back in this order, padded with spaces so
     * the data section starts 8-byte aligned.
     */
    static byte[] header(Map<String, String> metadata, List<Spec> tensors) {
        return header(metadata, tensors, 0);
    }

    /** As {@link #header(Map, List)}; a positive {@code fixedOffset} puts that number in every offset (for a size bound). */
    private static byte[] header(Map<String, String> metadata, List<Spec> tensors, long fixedOffset) {
        JsonObject header = new JsonObject();
        if (!metadata.isEmpty()) {
            JsonObject meta = new JsonObject();
            metadata.forEach(meta::addProperty);
            header.add("__metadata__", meta);
        }
        long offset = 0;
        for (Spec spec : tensors) {
            JsonObject t = new JsonObject();
            t.addProperty("dtype", spec.type().name());
            JsonArray shape = new JsonArray();
            for (long d : spec.shape().getShape()) {
                shape.add(d);
            }
            t.add("shape", shape);
            JsonArray offsets = new JsonArray();
            offsets.add(fixedOffset > 0 ? fixedOffset : offset);
            offset += spec.byteSize();
            offsets.add(fixedOffset > 0 ? fixedOffset : offset);
            t.add("data_offsets", offsets);
            header.add(spec.name(), t);
        }
        byte[] json = header.toString().getBytes(StandardCharsets.UTF_8);
        byte[] bytes = new byte[(json.length + 7) / 8 * 8];
        java.util.Arrays.fill(bytes, (byte) ' ');
        System.arraycopy(json, 0, bytes, 0, json.length);
        return bytes;
    }

    private void flush() throws IOException {
        buffer.flip();
        writeFully(buffer);
        buffer.clear();
    }

    private void writeFully(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            channel.write(b);
        }
    }

    /** Writes the open shard's header into the space reserved in front of its data. */
    private void closeShard() throws IOException {
        if (channel == null) {
            return;
        }
        flush();
        byte[] json = header(metadata, specs(openShard), 0);
        if (json.length > reservedOfOpen) {
            throw new IllegalStateException("shard " + (openShard + 1) + ": header of " + json.length
                    + " bytes exceeds the " + reservedOfOpen + " reserved (a tensor outside the declared possible set?)");
        }
        byte[] padded = new byte[(int) reservedOfOpen];
        java.util.Arrays.fill(padded, (byte) ' ');
        System.arraycopy(json, 0, padded, 0, json.length);
        ByteBuffer head = ByteBuffer.allocate(8 + padded.length).order(ByteOrder.LITTLE_ENDIAN).putLong(padded.length).put(padded).flip();
        long at = 0;
        while (head.hasRemaining()) {
            at += channel.write(head, at);
        }
        channel.close();
        channel = null;
    }

    /**
     * Finishes the last shard, gives the shards their final names and writes the index (for several
     * shards); every declared tensor must have been written in full.
     */
    public void finish() throws IOException {
        if (expected() != null) {
            throw new IllegalStateException("tensor '" + expected().name() + "' was not written"
                    + (writtenOfNext > 0 ? " in full" : ""));
        }
        if (placed.isEmpty()) {
            throw new IllegalStateException("no tensors were written");
        }
        closeShard();
        for (int i = 0; i < shards.size(); i++) {
            if (!Files.exists(partialFile(i))) { // a shard of only empty tensors had no bytes to write
                ensureShard(i);
                closeShard();
            }
        }
        finished = true;
        List<String> final_ = shardNames();
        for (int i = 0; i < final_.size(); i++) {
            Files.move(partialFile(i), dir.resolve(final_.get(i)));
        }
        if (final_.size() > 1) {
            JsonObject index = new JsonObject();
            JsonObject meta = new JsonObject();
            meta.addProperty("total_size", placed.stream().mapToLong(p -> p.spec().byteSize()).sum());
            index.add("metadata", meta);
            JsonObject map = new JsonObject();
            for (Placed p : placed) {
                map.addProperty(p.spec().name(), final_.get(p.shard()));
            }
            index.add("weight_map", map);
            Files.writeString(dir.resolve(SafeTensorsCheckpoint.INDEX_FILE),
                    new GsonBuilder().setPrettyPrinting().create().toJson(index));
        }
    }

    /** Closes an open shard without finishing (after a failure; the caller discards the directory). */
    @Override
    public void close() throws IOException {
        if (channel != null) {
            channel.close();
            channel = null;
        }
    }
}
