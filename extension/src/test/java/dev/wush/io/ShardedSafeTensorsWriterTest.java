package dev.wush.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShardedSafeTensorsWriterTest {

    @TempDir
    Path dir;

    static byte[] bytes(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 31 + seed);
        }
        return b;
    }

    @Test
    void shardsInDeclarationOrderWithAnIndexThatTheReaderOpens() throws IOException {
        List<ShardedSafeTensorsWriter.Spec> specs = List.of(
                new ShardedSafeTensorsWriter.Spec("a", TensorType.F32, new Shape(10, 10)),  // 400 bytes
                new ShardedSafeTensorsWriter.Spec("b", TensorType.BF16, new Shape(100)),    // 200
                new ShardedSafeTensorsWriter.Spec("empty", TensorType.U8, new Shape(0)),    // 0
                new ShardedSafeTensorsWriter.Spec("c", TensorType.U8, new Shape(700)));     // 700: a shard of its own
        try (ShardedSafeTensorsWriter w = new ShardedSafeTensorsWriter(dir, specs, 600, Map.of("format", "pt"))) {
            assertEquals(List.of("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"), w.shardNames());
            byte[] a = bytes(400, 1);
            w.write("a", ByteBuffer.wrap(a, 0, 150)); // in pieces
            w.write("a", ByteBuffer.wrap(a, 150, 250));
            w.write("b", bytes(200, 2));
            w.write("empty", new byte[0]);
            w.write("c", bytes(700, 3));
            w.finish();
        }
        try (SafeTensorsCheckpoint c = SafeTensorsCheckpoint.open(dir)) {
            assertEquals(java.util.Set.of("a", "b", "c", "empty"), c.names());
            assertArrayEquals(bytes(400, 1), c.file("a").bytes("a").toArray(ValueLayout.JAVA_BYTE));
            assertArrayEquals(bytes(200, 2), c.file("b").bytes("b").toArray(ValueLayout.JAVA_BYTE));
            assertArrayEquals(bytes(700, 3), c.file("c").bytes("c").toArray(ValueLayout.JAVA_BYTE));
            assertEquals(new Shape(10, 10), c.info("a").shape());
            assertEquals("pt", c.file("c").metadata().get("format"));
        }
        assertTrue(Files.readString(dir.resolve(SafeTensorsCheckpoint.INDEX_FILE)).contains("\"total_size\": 1300"));
    }

    @Test
    void tensorsDeclaredAsTheyComeFillShardsWhoseHeadersAreWrittenLast() throws IOException {
        List<ShardedSafeTensorsWriter.Spec> possible = List.of(
                new ShardedSafeTensorsWriter.Spec("layer.0.qweight", TensorType.U8, new Shape(300)),
                new ShardedSafeTensorsWriter.Spec("layer.0.transform", TensorType.F32, new Shape(2, 4, 4)),
                new ShardedSafeTensorsWriter.Spec("layer.1.qweight", TensorType.U8, new Shape(300)),
                new ShardedSafeTensorsWriter.Spec("layer.1.transform", TensorType.F32, new Shape(2, 4, 4)),
                new ShardedSafeTensorsWriter.Spec("norm", TensorType.BF16, new Shape(50)));
        try (ShardedSafeTensorsWriter w = ShardedSafeTensorsWriter.open(dir, 500, Map.of("format", "pt"), possible)) {
            // layer 0 turns out to need a transform, layer 1 not: known only once each is quantized
            for (var spec : List.of(possible.get(0), possible.get(1), possible.get(2), possible.get(4))) {
                w.declare(spec);
                w.write(spec.name(), bytes((int) spec.byteSize(), spec.name().length()));
            }
            IllegalArgumentException twice = assertThrows(IllegalArgumentException.class, () -> w.declare(possible.get(0)));
            assertTrue(twice.getMessage().contains("declared twice"), twice.getMessage());
            w.finish();
            assertEquals(List.of("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"), w.shardNames());
        }
        try (java.util.stream.Stream<Path> files = Files.list(dir)) {
            assertEquals(3, files.count(), "two shards and the index, no partial files");
        }
        try (SafeTensorsCheckpoint c = SafeTensorsCheckpoint.open(dir)) {
            assertEquals(java.util.Set.of("layer.0.qweight", "layer.0.transform", "layer.1.qweight", "norm"), c.names());
            for (String name : c.names()) {
                assertArrayEquals(bytes((int) c.info(name).byteSize(), name.length()),
                        c.file(name).bytes(name).toArray(ValueLayout.JAVA_BYTE), name);
            }
            assertEquals(new Shape(2, 4, 4), c.info("layer.0.transform").shape());
            assertEquals(c.file("layer.1.qweight").path(), c.file("norm").path());
        }
    }

    @Test
    void oneShardIsTheSingleFileLayout() throws IOException {
        try (ShardedSafeTensorsWriter w = new ShardedSafeTensorsWriter(dir,
                List.of(new ShardedSafeTensorsWriter.Spec("x", TensorType.F32, new Shape(2))), 1 << 30, Map.of())) {
            w.write("x", new byte[8]);
            w.finish();
        }
        assertTrue(Files.isRegularFile(dir.resolve(SafeTensorsCheckpoint.SINGLE_FILE)));
        assertFalse(Files.exists(dir.resolve(SafeTensorsCheckpoint.INDEX_FILE)));
    }

    @Test
    void misuseIsAnErrorNotACorruptFile() throws IOException {
        List<ShardedSafeTensorsWriter.Spec> specs = List.of(
                new ShardedSafeTensorsWriter.Spec("a", TensorType.U8, new Shape(4)),
                new ShardedSafeTensorsWriter.Spec("b", TensorType.U8, new Shape(4)));
        try (ShardedSafeTensorsWriter w = new ShardedSafeTensorsWriter(dir, specs, 1 << 20, Map.of())) {
            assertThrows(IllegalStateException.class, () -> w.write("b", new byte[4]));
            assertThrows(IllegalArgumentException.class, () -> w.write("a", new byte[5]));
            w.write("a", new byte[3]);
            IllegalStateException e = assertThrows(IllegalStateException.class, w::finish);
            assertTrue(e.getMessage().contains("'a' was not written in full"), e.getMessage());
        }
    }

    /** A tensor over 2 GiB (an fp32 128256×4096 embedding is 2.1 GB) streams through the small buffer. */
    @Test
    void tensorsLargerThanTwoGibibytes() throws IOException {
        long n = (1L << 31) + 4096;
        ShardedSafeTensorsWriter.Spec big = new ShardedSafeTensorsWriter.Spec("big", TensorType.U8, new Shape(n));
        ByteBuffer piece = ByteBuffer.allocateDirect(1 << 24);
        try (ShardedSafeTensorsWriter w = new ShardedSafeTensorsWriter(dir, List.of(big), Long.MAX_VALUE, Map.of())) {
            for (long at = 0; at < n; at += piece.capacity()) {
                int len = (int) Math.min(piece.capacity(), n - at);
                piece.clear().limit(len);
                piece.put(0, (byte) (at >>> 24)); // a marker at the start of every piece
                w.write("big", piece);
            }
            w.finish();
        }
        try (SafeTensorsFile f = SafeTensorsFile.open(dir.resolve(SafeTensorsCheckpoint.SINGLE_FILE))) {
            MemorySegment data = f.bytes("big");
            assertEquals(n, data.byteSize());
            for (long at = 0; at < n; at += 1L << 24) {
                assertEquals((byte) (at >>> 24), data.get(ValueLayout.JAVA_BYTE, at));
            }
        } finally {
            Files.deleteIfExists(dir.resolve(SafeTensorsCheckpoint.SINGLE_FILE));
        }
    }
}
