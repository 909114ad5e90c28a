package dev.wush.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsFileTest {

    static NDManager manager;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() {
        manager = NDManager.newBaseManager("PyTorch");
    }

    @AfterAll
    static void stop() {
        manager.close();
    }

    @Test
    void writesAndReadsFloat32() throws IOException {
        Path file = dir.resolve("m.safetensors");
        float[] a = {1, -2, 3.5f, 0, 6, -0.25f};
        new SafeTensorsWriter().putFloats("a", new Shape(2, 3), a).putFloats("b", new Shape(1), new float[] {7}).write(file);
        try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
            assertEquals(2, f.tensors().size());
            TensorInfo info = f.info("a");
            assertEquals(TensorType.F32, info.type());
            assertEquals(new Shape(2, 3), info.shape());
            NDArray loaded = f.load(manager, "a", new Shape(2, 3), DataType.FLOAT32);
            assertArrayEquals(a, loaded.toFloatArray());
            assertArrayEquals(new float[] {7}, f.load(manager, "b", null, DataType.FLOAT32).toFloatArray());
        }
        // the loaded array owns its memory: it stays valid after the mapping is closed
    }

    @Test
    void loadedArrayOutlivesTheMapping() throws IOException {
        Path file = dir.resolve("m.safetensors");
        new SafeTensorsWriter().putFloats("a", new Shape(3), new float[] {1, 2, 3}).write(file);
        NDArray loaded;
        try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
            loaded = f.load(manager, "a", null, DataType.FLOAT32);
        }
        loaded.addi(1); // would crash on a read-only mapping
        assertArrayEquals(new float[] {2, 3, 4}, loaded.toFloatArray());
    }

    @Test
    void widensEveryBf16BitPatternExactlyAcrossPieces() {
        int n = 65536 + 1000; // every pattern, then more: two pieces
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            java.lang.foreign.MemorySegment raw = arena.allocate(2L * n);
            for (int i = 0; i < n; i++) {
                raw.set(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 2L * i, (short) i);
            }
            java.lang.foreign.MemorySegment wide = arena.allocate(4L * n);
            SafeTensorsFile.widenBf16(raw, wide, n);
            for (int i = 0; i < n; i++) {
                assertEquals((i & 0xFFFF) << 16, wide.getAtIndex(java.lang.foreign.ValueLayout.JAVA_INT, i), "pattern " + i);
            }
        }
    }

    @Test
    void releasingATensorsPagesIsAcceptedOnLinuxAndLeavesItReadable() throws IOException {
        Path file = dir.resolve("m.safetensors");
        float[] a = new float[5000]; // several pages
        for (int i = 0; i < a.length; i++) {
            a[i] = i * 0.5f;
        }
        new SafeTensorsWriter().putFloats("a", new Shape(a.length), a).write(file);
        try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
            assertArrayEquals(a, f.load(manager, "a", null, DataType.FLOAT32).toFloatArray());
            assertEquals(System.getProperty("os.name").toLowerCase(java.util.Locale.ROOT).contains("linux"), f.release("a"),
                    "madvise(MADV_DONTNEED) on a read-only mapping");
            assertArrayEquals(a, f.load(manager, "a", null, DataType.FLOAT32).toFloatArray(), "refaulted from the file");
        }
    }

    @Test
    void convertsBf16AndF16ToFloat32() throws IOException {
        // 1.5 is 0x3FC0 in bfloat16 and 0x3E00 in float16; -2 is 0xC000 in both
        byte[] bf16 = shorts(0x3FC0, 0xC000, 0x0000);
        byte[] f16 = shorts(0x3E00, 0xC000, 0x3C00);
        Path file = dir.resolve("h.safetensors");
        new SafeTensorsWriter()
                .put("bf", TensorType.BF16, new Shape(3), bf16)
                .put("h", TensorType.F16, new Shape(3), f16)
                .write(file);
        try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
            assertArrayEquals(new float[] {1.5f, -2f, 0f}, f.load(manager, "bf", null, DataType.FLOAT32).toFloatArray());
            assertArrayEquals(new float[] {1.5f, -2f, 1f}, f.load(manager, "h", null, DataType.FLOAT32).toFloatArray());
            NDArray half = f.load(manager, "bf", null, DataType.FLOAT16);
            assertEquals(DataType.FLOAT16, half.getDataType());
            assertArrayEquals(new float[] {1.5f, -2f, 0f}, half.toType(DataType.FLOAT32, false).toFloatArray());
            CheckpointException e = assertThrows(CheckpointException.class, () -> f.load(manager, "bf", null, DataType.BFLOAT16));
            assertTrue(e.getMessage().contains("'bf'"), e.getMessage());
        }
    }

    @Test
    void truncatedFileNamesFileAndTensor() throws IOException {
        Path file = dir.resolve("t.safetensors");
        new SafeTensorsWriter().putFloats("first", new Shape(4), new float[4]).putFloats("last", new Shape(4), new float[4]).write(file);
        byte[] bytes = Files.readAllBytes(file);
        Files.write(file, Arrays.copyOf(bytes, bytes.length - 3));
        CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensorsFile.open(file));
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("'last'"), e.getMessage());
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void fileShorterThanItsHeader() throws IOException {
        Path file = dir.resolve("short.safetensors");
        Files.write(file, new byte[] {100, 0, 0, 0, 0, 0, 0, 0, '{'});
        CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensorsFile.open(file));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        Files.write(file, new byte[] {1, 2, 3});
        assertTrue(assertThrows(CheckpointException.class, () -> SafeTensorsFile.open(file)).getMessage().contains("truncated"));
    }

    @Test
    void badHeaderJson() throws IOException {
        Path file = dir.resolve("bad.safetensors");
        byte[] json = "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], ".getBytes(StandardCharsets.UTF_8);
        Files.write(file, withHeader(json, new byte[8]));
        CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensorsFile.open(file));
        assertTrue(e.getMessage().startsWith(file.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("bad header"), e.getMessage());
    }

    @Test
    void implausibleHeaderLength() throws IOException {
        Path file = dir.resolve("huge.safetensors");
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(Long.MAX_VALUE / 2);
        Files.write(file, b.array());
        assertTrue(assertThrows(CheckpointException.class, () -> SafeTensorsFile.open(file)).getMessage().contains("bad header"));
    }

    @Test
    void offsetsThatDisagreeWithShape() throws IOException {
        Path file = dir.resolve("mis.safetensors");
        byte[] json = "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}".getBytes(StandardCharsets.UTF_8);
        Files.write(file, withHeader(json, new byte[8]));
        CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensorsFile.open(file));
        assertTrue(e.getMessage().contains("'w'") && e.getMessage().contains("bad header"), e.getMessage());
    }

    @Test
    void unsupportedDtype() throws IOException {
        Path file = dir.resolve("fp8.safetensors");
        byte[] json = "{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[8],\"data_offsets\":[0,8]}}".getBytes(StandardCharsets.UTF_8);
        Files.write(file, withHeader(json, new byte[8]));
        CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensorsFile.open(file));
        assertTrue(e.getMessage().contains("'w'") && e.getMessage().contains("F8_E4M3"), e.getMessage());
    }

    @Test
    void missingAndMisShapedTensors() throws IOException {
        Path file = dir.resolve("m.safetensors");
        new SafeTensorsWriter().putFloats("w", new Shape(2, 3), new float[6]).write(file);
        try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
            CheckpointException missing = assertThrows(CheckpointException.class, () -> f.load(manager, "v", null, DataType.FLOAT32));
            assertTrue(missing.getMessage().contains(file.toString()) && missing.getMessage().contains("'v'")
                    && missing.getMessage().contains("missing"), missing.getMessage());
            CheckpointException shape = assertThrows(CheckpointException.class,
                    () -> f.load(manager, "w", new Shape(3, 2), DataType.FLOAT32));
            assertTrue(shape.getMessage().contains("'w'") && shape.getMessage().contains("(2, 3)")
                    && shape.getMessage().contains("(3, 2)"), shape.getMessage());
        }
    }

    @Test
    void writeIsAtomicAndLeavesNoTemporaryFile() throws IOException {
        Path file = dir.resolve("a.safetensors");
        new SafeTensorsWriter().putFloats("x", new Shape(1), new float[] {1}).write(file);
        new SafeTensorsWriter().putFloats("y", new Shape(1), new float[] {2}).write(file);
        try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
            assertFalse(f.tensors().containsKey("x"));
            assertTrue(f.tensors().containsKey("y"));
        }
        try (var files = Files.list(dir)) {
            assertEquals(1, files.count());
        }
    }

    @Test
    void metadataRoundTrips() throws IOException {
        Path file = dir.resolve("meta.safetensors");
        new SafeTensorsWriter().metadata("format", "pt").putFloats("x", new Shape(1), new float[] {1}).write(file);
        try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
            assertEquals("pt", f.metadata().get("format"));
        }
    }

    static byte[] shorts(int... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : values) {
            b.putShort((short) v);
        }
        return b.array();
    }

    static byte[] withHeader(byte[] json, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(8 + json.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(json.length).put(json).put(data);
        return b.array();
    }

    /** Tensors beyond one conversion piece load in row blocks into their place, with the same values. */
    @Test
    void largeTensorsLoadInRowBlocks() throws IOException {
        int rows = 4100;
        int cols = 4100; // 16.8 M elements: 67 MB as float32, more than one 64 MB piece
        byte[] bf16 = new byte[rows * cols * 2];
        for (int i = 0; i < rows * cols; i++) {
            short v = (short) (0x3F80 + (i % 97)); // 1.0 and a little more, by row and column
            bf16[2 * i] = (byte) v;
            bf16[2 * i + 1] = (byte) (v >> 8);
        }
        Path file = dir.resolve("big.safetensors");
        new SafeTensorsWriter().put("w", TensorType.BF16, new Shape(rows, cols), bf16).write(file);
        try (SafeTensorsFile f = SafeTensorsFile.open(file); NDArray w = f.load(manager, "w", null, DataType.FLOAT32);
                NDArray h = f.load(manager, "w", null, DataType.FLOAT16)) {
            assertEquals(new Shape(rows, cols), w.getShape());
            float[] values = w.toFloatArray();
            for (int i = 0; i < values.length; i += 9973) {
                assertEquals(Float.intBitsToFloat((0x3F80 + (i % 97)) << 16), values[i], 0f, "element " + i);
            }
            assertEquals(values[values.length - 1], Float.intBitsToFloat((0x3F80 + ((rows * cols - 1) % 97)) << 16));
            assertEquals(DataType.FLOAT16, h.getDataType());
            try (NDArray back = h.toType(DataType.FLOAT32, false)) {
                assertEquals(values[rows * cols / 2], back.toFloatArray()[rows * cols / 2], 1e-2f);
            }
        }
    }
}
