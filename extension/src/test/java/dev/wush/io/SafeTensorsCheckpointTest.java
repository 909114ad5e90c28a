package dev.wush.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsCheckpointTest {

    @TempDir
    Path dir;

    @Test
    void readsShardsThroughTheIndex() throws IOException {
        new SafeTensorsWriter().putFloats("a", new Shape(2), new float[] {1, 2}).write(dir.resolve("model-00001-of-00002.safetensors"));
        new SafeTensorsWriter().putFloats("b", new Shape(1), new float[] {3}).write(dir.resolve("model-00002-of-00002.safetensors"));
        Files.writeString(dir.resolve(SafeTensorsCheckpoint.INDEX_FILE), """
                {"metadata": {"total_size": 12},
                 "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
                """);
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                SafeTensorsCheckpoint c = SafeTensorsCheckpoint.open(dir)) {
            assertEquals(Set.of("a", "b"), c.names());
            assertArrayEquals(new float[] {1, 2}, c.load(m, "a", new Shape(2), DataType.FLOAT32).toFloatArray());
            assertArrayEquals(new float[] {3}, c.load(m, "b", new Shape(1), DataType.FLOAT32).toFloatArray());
            CheckpointException e = assertThrows(CheckpointException.class, () -> c.load(m, "c", null, DataType.FLOAT32));
            assertTrue(e.getMessage().contains("'c'"), e.getMessage());
        }
    }

    @Test
    void indexNamingAMissingShardFails() throws IOException {
        Files.writeString(dir.resolve(SafeTensorsCheckpoint.INDEX_FILE), """
                {"weight_map": {"a": "model-00001-of-00002.safetensors"}}
                """);
        CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensorsCheckpoint.open(dir));
        assertTrue(e.getMessage().contains("model-00001-of-00002.safetensors"), e.getMessage());
    }

    @Test
    void indexNamingATensorTheShardLacks() throws IOException {
        new SafeTensorsWriter().putFloats("a", new Shape(1), new float[] {1}).write(dir.resolve("s.safetensors"));
        Files.writeString(dir.resolve(SafeTensorsCheckpoint.INDEX_FILE), """
                {"weight_map": {"a": "s.safetensors", "zz": "s.safetensors"}}
                """);
        CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensorsCheckpoint.open(dir));
        assertTrue(e.getMessage().contains("'zz'") && e.getMessage().contains("s.safetensors"), e.getMessage());
    }

    @Test
    void badIndexJson() throws IOException {
        Files.writeString(dir.resolve(SafeTensorsCheckpoint.INDEX_FILE), "{\"weight_map\": [");
        CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensorsCheckpoint.open(dir));
        assertTrue(e.getMessage().contains(SafeTensorsCheckpoint.INDEX_FILE), e.getMessage());
    }

    @Test
    void shardPathMayNotLeaveTheDirectory() throws IOException {
        Files.writeString(dir.resolve(SafeTensorsCheckpoint.INDEX_FILE), """
                {"weight_map": {"a": "../elsewhere.safetensors"}}
                """);
        assertThrows(CheckpointException.class, () -> SafeTensorsCheckpoint.open(dir));
    }

    @Test
    void directoryWithoutWeights() {
        CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensorsCheckpoint.open(dir));
        assertTrue(e.getMessage().contains("model.safetensors"), e.getMessage());
    }
}
