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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Streams the weights of a model directory into safetensors shards without holding them: every
 * tensor is declared first (name, type, shape), which fixes the shards and their headers; then the
 * tensors' bytes are written in declaration order, in as many pieces as the caller likes, so a tensor
 * of any size (over 2 GiB included) passes through a small buffer.
 *
 * <p>Shards fill in declaration order up to {@code maxShardBytes} of data (a larger tensor gets a
 * shard of its own). One shard is written as {@code model.safetensors}; several as
 * {@code model-00001-of-0000N.safetensors} with {@code model.safetensors.index.json}, the Hugging
 * Face layout. Files go straight into {@code dir}, which should be the staging directory of an
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
    private final List<Placed> placed = new ArrayList<>();
    private final List<String> shardNames = new ArrayList<>();
    private final List<List<Placed>> shards = new ArrayList<>();
    private final Map<String, String> metadata;
    private int next;          // index into placed of the tensor being written
    private long writtenOfNext; // bytes of it written so far
    private FileChannel channel;
    private int openShard = -1;
    private final ByteBuffer buffer = ByteBuffer.allocateDirect(1 << 20);

    /**
     * @param tensors in the order their data will be written
     * @param maxShardBytes data bytes per shard at most (5 GB is the hub's usual limit)
     * @param metadata the {@code __metadata__} of every shard, e.g. {@code format: pt}
     */
    public ShardedSafeTensorsWriter(Path dir, List<Spec> tensors, long maxShardBytes, Map<String, String> metadata) {
        if (tensors.isEmpty()) {
            throw new IllegalArgumentException("no tensors to write");
        }
        this.dir = dir;
        this.metadata = new LinkedHashMap<>(metadata);
        List<Placed> current = new ArrayList<>();
        long size = 0;
        for (Spec spec : tensors) {
            long bytes = spec.byteSize();
            if (!current.isEmpty() && size + bytes > maxShardBytes) {
                shards.add(current);
                current = new ArrayList<>();
                size = 0;
            }
            Placed p = new Placed(spec, shards.size(), size);
            current.add(p);
            placed.add(p);
            size += bytes;
        }
        shards.add(current);
        int n = shards.size();
        for (int i = 0; i < n; i++) {
            shardNames.add(n == 1 ? SafeTensorsCheckpoint.SINGLE_FILE
                    : String.format("model-%05d-of-%05d.safetensors", i + 1, n));
        }
    }

    /** Names of the shard files, in order. */
    public List<String> shardNames() {
        return List.copyOf(shardNames);
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

    /** Writes the whole tensor at once. */
    public void write(String name, byte[] bytes) throws IOException {
        write(name, ByteBuffer.wrap(bytes));
    }

    private void ensureShard(int shard) throws IOException {
        if (shard == openShard) {
            return;
        }
        closeShard();
        Path file = dir.resolve(shardNames.get(shard));
        channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        openShard = shard;
        byte[] header = header(shards.get(shard));
        ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).flip();
        writeFully(len);
        writeFully(ByteBuffer.wrap(header));
    }

    private byte[] header(List<Placed> tensors) {
        return header(metadata, tensors.stream().map(Placed::spec).toList());
    }

    /**
     * The header of one file holding {@code tensors} back to back in this order, padded with spaces so
     * the data section starts 8-byte aligned.
     */
    static byte[] header(Map<String, String> metadata, List<Spec> tensors) {
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
            offsets.add(offset);
            offset += spec.byteSize();
            offsets.add(offset);
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

    private void closeShard() throws IOException {
        if (channel != null) {
            flush();
            channel.close();
            channel = null;
        }
    }

    /**
     * Finishes the last shard and writes the index (for several shards); every declared tensor must
     * have been written in full.
     */
    public void finish() throws IOException {
        if (expected() != null) {
            throw new IllegalStateException("tensor '" + expected().name() + "' was not written"
                    + (writtenOfNext > 0 ? " in full" : ""));
        }
        closeShard();
        if (shardNames.size() > 1) {
            JsonObject index = new JsonObject();
            JsonObject meta = new JsonObject();
            meta.addProperty("total_size", placed.stream().mapToLong(p -> p.spec().byteSize()).sum());
            index.add("metadata", meta);
            JsonObject map = new JsonObject();
            for (Placed p : placed) {
                map.addProperty(p.spec().name(), shardNames.get(p.shard()));
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
