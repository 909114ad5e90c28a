package dev.wush.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The header rules of the safetensors format, as its reference implementation enforces them: sorted
 * by offset the tensors tile the data section exactly (no overlap, no gap, nothing after), dimensions
 * and offsets are integers, metadata values are strings, the header is UTF-8 JSON starting with '{'.
 */
class SafeTensorsHeaderTest {

    @TempDir
    Path dir;

    /** A file of this header (padded with spaces) and {@code dataBytes} zero bytes of data. */
    Path file(String header, int dataBytes) throws IOException {
        return file(header.getBytes(StandardCharsets.UTF_8), dataBytes);
    }

    Path file(byte[] header, int dataBytes) throws IOException {
        int padded = (header.length + 7) / 8 * 8;
        ByteBuffer b = ByteBuffer.allocate(8 + padded + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(padded).put(header);
        for (int i = header.length; i < padded; i++) {
            b.put((byte) ' ');
        }
        Path f = dir.resolve("m.safetensors");
        Files.write(f, b.array());
        return f;
    }

    String reject(String header, int dataBytes) throws IOException {
        Path f = file(header, dataBytes);
        CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensorsFile.open(f).close());
        assertTrue(e.getMessage().startsWith(f + ": "), e.getMessage());
        return e.getMessage();
    }

    @Test
    void contiguousTensorsInAnyHeaderOrderAreAccepted() throws IOException {
        Path f = file("{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                + "\"a\":{\"dtype\":\"U8\",\"shape\":[2,4],\"data_offsets\":[0,8]},"
                + "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[16,16]},"
                + "\"__metadata__\":{\"format\":\"pt\"}}", 16);
        try (SafeTensorsFile s = SafeTensorsFile.open(f)) {
            assertEquals(3, s.tensors().size());
            assertEquals("pt", s.metadata().get("format"));
        }
    }

    @Test
    void overlappingOffsetsAreRejected() throws IOException {
        String m = reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12);
        assertTrue(m.contains("tensor 'b'") && m.contains("overlap tensor 'a'"), m);
        // the same bytes read twice: both tensors start at 0
        m = reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
        assertTrue(m.contains("overlap"), m);
    }

    @Test
    void gapsAndTrailingBytesAreRejected() throws IOException {
        String gap = reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12);
        assertTrue(gap.contains("tensor 'b'") && gap.contains("gap of 4 bytes"), gap);
        String start = reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8);
        assertTrue(start.contains("gap of 4 bytes"), start);
        String tail = reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 12);
        assertTrue(tail.contains("8 bytes after the last tensor"), tail);
    }

    @Test
    void numbersMustBeWholeAndNonNegative() throws IOException {
        assertTrue(reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4).contains("shape"));
        assertTrue(reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4).contains("shape"));
        assertTrue(reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4).contains("shape"));
        assertTrue(reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4).contains("data_offsets"));
        assertTrue(reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0.0,4.5]}}", 4).contains("data_offsets"));
        assertTrue(reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4)
                .contains("too large"));
    }

    @Test
    void headerShapeRules() throws IOException {
        assertTrue(reject("[]", 0).contains("does not start with '{'"));
        assertTrue(reject("{\"__metadata__\":{\"n\":1}}", 0).contains("__metadata__.n"));
        assertTrue(reject("{\"__metadata__\":[]}", 0).contains("__metadata__"));
        assertTrue(reject("{\"a\":3}", 0).contains("tensor 'a'"));
        assertTrue(reject("{\"a\":{\"dtype\":7,\"shape\":[],\"data_offsets\":[0,4]}}", 4).contains("dtype"));
        assertTrue(reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4).contains("invalid JSON"));
        byte[] latin1 = "{\"\u00e9\":{}}".getBytes(StandardCharsets.ISO_8859_1);
        Path f = file(latin1, 0);
        CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensorsFile.open(f).close());
        assertTrue(e.getMessage().contains("not UTF-8"), e.getMessage());
    }
}
