package dev.wush.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;

/**
 * Fuzzes the safetensors reader with files a broken writer, a truncated download or a hostile hand
 * could make: random truncations, byte flips, and mutations of offsets, shapes, dtypes and names. For
 * every file, opening either fails with a {@link CheckpointException} naming the file in one line, or
 * succeeds with a header that an independent check finds consistent (known dtypes, byte counts that
 * match shapes, tensors tiling the data section exactly) and whose tensors can all be read. Any other
 * exception, or an accepted inconsistent file, fails the property; jqwik prints the seed to replay it.
 */
class SafeTensorsFuzzTest {

    static final TensorType[] TYPES = {TensorType.F32, TensorType.F16, TensorType.BF16, TensorType.U8, TensorType.I64};

    @Property(tries = 1500, seed = "20261201")
    void mutatedFilesAreRejectedCleanlyOrConsistent(@ForAll long seed) throws IOException {
        Random random = new Random(seed);
        byte[] bytes = mutate(validFile(random), random);
        Path file = Files.createTempFile("fuzz", ".safetensors");
        try {
            Files.write(file, bytes);
            SafeTensorsFile opened;
            try {
                opened = SafeTensorsFile.open(file);
            } catch (CheckpointException e) {
                String m = e.getMessage();
                assertTrue(m.startsWith(file.toString()), m);
                assertFalse(m.contains("\n") || m.contains("Exception") || m.contains("com.google"), m);
                return;
            }
            try (opened) {
                assertConsistent(bytes, opened);
            }
        } finally {
            Files.deleteIfExists(file);
        }
    }

    /** The independent check of an accepted file, from the raw bytes rather than the reader's own arithmetic. */
    static void assertConsistent(byte[] bytes, SafeTensorsFile opened) throws CheckpointException {
        long headerBytes = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        long dataBytes = bytes.length - 8 - headerBytes;
        List<TensorInfo> infos = new ArrayList<>(opened.tensors().values());
        infos.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        long next = 0;
        for (TensorInfo t : infos) {
            assertTrue(Arrays.asList(TensorType.values()).contains(t.type()));
            long elements = 1;
            for (long d : t.shape().getShape()) {
                assertTrue(d >= 0);
                elements *= d;
            }
            assertEquals(elements * t.type().bytes(), t.end() - t.begin(), t.name());
            assertEquals(next, t.begin(), "tensors tile the data: " + t.name());
            next = t.end();
            assertEquals(t.end() - t.begin(), opened.bytes(t.name()).toArray(ValueLayout.JAVA_BYTE).length);
        }
        assertEquals(dataBytes, next, "the tensors cover the data section exactly");
    }

    /** A valid file of 1–5 random tensors, in random header order, through the project's writer. */
    static byte[] validFile(Random random) throws IOException {
        SafeTensorsWriter w = new SafeTensorsWriter();
        int n = 1 + random.nextInt(5);
        for (int i = 0; i < n; i++) {
            TensorType type = TYPES[random.nextInt(TYPES.length)];
            long[] dims = new long[random.nextInt(4)];
            long elements = 1;
            for (int d = 0; d < dims.length; d++) {
                dims[d] = random.nextInt(6);
                elements *= dims[d];
            }
            byte[] data = new byte[(int) elements * type.bytes()];
            random.nextBytes(data);
            w.put("t" + i + "." + random.nextInt(1000), type, new Shape(dims), data);
        }
        if (random.nextBoolean()) {
            w.metadata("format", "pt");
        }
        Path file = Files.createTempFile("valid", ".safetensors");
        try {
            w.write(file);
            return Files.readAllBytes(file);
        } finally {
            Files.deleteIfExists(file);
        }
    }

    /** One random corruption: a raw one (truncate, flip, append) or a structural one of the JSON header. */
    static byte[] mutate(byte[] file, Random random) {
        int headerBytes = (int) ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        switch (random.nextInt(8)) {
            case 0 -> { // truncate anywhere
                return Arrays.copyOf(file, random.nextInt(file.length + 1));
            }
            case 1 -> { // flip bytes of the header (length field included)
                byte[] b = file.clone();
                for (int i = 0, k = 1 + random.nextInt(4); i < k; i++) {
                    int at = random.nextInt(8 + headerBytes);
                    b[at] = (byte) (b[at] ^ (1 << random.nextInt(8)));
                }
                return b;
            }
            case 2 -> { // trailing bytes after the data
                byte[] b = Arrays.copyOf(file, file.length + 1 + random.nextInt(16));
                return b;
            }
            default -> {
                JsonObject header = com.google.gson.JsonParser.parseString(
                        new String(file, 8, headerBytes, StandardCharsets.UTF_8)).getAsJsonObject();
                mutateHeader(header, random);
                byte[] data = Arrays.copyOfRange(file, 8 + headerBytes, file.length);
                return assemble(header.toString().getBytes(StandardCharsets.UTF_8), data);
            }
        }
    }

    static void mutateHeader(JsonObject header, Random random) {
        List<String> names = new ArrayList<>(header.keySet());
        names.remove("__metadata__");
        JsonObject t = header.getAsJsonObject(names.get(random.nextInt(names.size())));
        JsonArray offsets = t.getAsJsonArray("data_offsets");
        JsonArray shape = t.getAsJsonArray("shape");
        switch (random.nextInt(8)) {
            case 0 -> offsets.set(random.nextInt(2), new com.google.gson.JsonPrimitive(
                    Math.max(0, offsets.get(0).getAsLong() + random.nextInt(17) - 8)));
            case 1 -> { // shift a whole tensor: overlaps or gaps
                long delta = random.nextInt(17) - 8;
                offsets.set(0, new com.google.gson.JsonPrimitive(offsets.get(0).getAsLong() + delta));
                offsets.set(1, new com.google.gson.JsonPrimitive(offsets.get(1).getAsLong() + delta));
            }
            case 2 -> { // a dimension changes, or one is added or removed
                if (shape.isEmpty() || random.nextBoolean()) {
                    shape.add(random.nextInt(4));
                } else {
                    shape.set(random.nextInt(shape.size()), new com.google.gson.JsonPrimitive(random.nextInt(7) - 1));
                }
            }
            case 3 -> t.addProperty("dtype", List.of("F32", "F16", "U8", "I64", "F8_E4M3", "f32", "").get(random.nextInt(7)));
            case 4 -> { // a second tensor over the same bytes
                header.add("copy-" + random.nextInt(100), t.deepCopy());
            }
            case 5 -> header.remove(names.get(random.nextInt(names.size()))); // a tensor's entry lost: a gap
            case 6 -> { // wrong JSON types
                String field = List.of("dtype", "shape", "data_offsets").get(random.nextInt(3));
                t.add(field, List.of(new com.google.gson.JsonPrimitive(1.5), new JsonObject(), new JsonArray(),
                        new com.google.gson.JsonPrimitive("x")).get(random.nextInt(4)));
            }
            default -> header.add("__metadata__", random.nextBoolean() ? new JsonArray()
                    : jsonObject(Map.of("k", new com.google.gson.JsonPrimitive(random.nextInt()))));
        }
    }

    static JsonObject jsonObject(Map<String, com.google.gson.JsonElement> fields) {
        JsonObject o = new JsonObject();
        fields.forEach(o::add);
        return o;
    }

    static byte[] assemble(byte[] header, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length).put(header).put(data);
        return b.array();
    }
}
