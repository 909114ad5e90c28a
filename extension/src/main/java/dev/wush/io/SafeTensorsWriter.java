package dev.wush.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes one safetensors file. Tensors are collected first, then written to a temporary file beside
 * the target and renamed into place, so a reader never sees a half-written file.
 */
public final class SafeTensorsWriter {

    private record Entry(TensorType type, Shape shape, byte[] bytes) {}

    private final Map<String, Entry> entries = new LinkedHashMap<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    /** Adds an array, stored with its own element type. */
    public SafeTensorsWriter put(String name, NDArray array) {
        return put(name, TensorType.of(array.getDataType()), array.getShape(), array.toByteArray());
    }

    /** Adds raw little-endian bytes of the given type and shape. */
    public SafeTensorsWriter put(String name, TensorType type, Shape shape, byte[] bytes) {
        if (bytes.length != shape.size() * type.bytes()) {
            throw new IllegalArgumentException(
                    "tensor '" + name + "': " + bytes.length + " bytes for shape " + shape + " of " + type);
        }
        if (entries.putIfAbsent(name, new Entry(type, shape, bytes)) != null) {
            throw new IllegalArgumentException("tensor '" + name + "' added twice");
        }
        return this;
    }

    /** Adds a float32 tensor from a Java array. */
    public SafeTensorsWriter putFloats(String name, Shape shape, float[] values) {
        ByteBuffer buf = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        buf.asFloatBuffer().put(values);
        return put(name, TensorType.F32, shape, buf.array());
    }

    /** Adds a string to the header's {@code __metadata__}. */
    public SafeTensorsWriter metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    /** Writes everything to {@code target} atomically (temporary file, then rename). */
    public void write(Path target) throws IOException {
        List<ShardedSafeTensorsWriter.Spec> specs = new ArrayList<>();
        entries.forEach((name, e) -> specs.add(new ShardedSafeTensorsWriter.Spec(name, e.type(), e.shape())));
        byte[] headerBytes = ShardedSafeTensorsWriter.header(metadata, specs);
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = AtomicFiles.stagingPath(target); // the user's default permissions, unlike createTempFile's 0600
        try {
            try (OutputStream out = Files.newOutputStream(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
                len.putLong(headerBytes.length);
                out.write(len.array());
                out.write(headerBytes);
                for (Entry e : entries.values()) {
                    out.write(e.bytes());
                }
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
