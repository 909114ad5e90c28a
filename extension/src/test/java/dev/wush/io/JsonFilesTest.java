package dev.wush.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** JSON errors name the file and place, never gson's exception class or its troubleshooting URL. */
class JsonFilesTest {

    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"{\"a\": 1", "{\"a\": }", "{a: 1}", "{\"a\": NaN}", "{\"a\": 1} // note", "{\"a\": 1} x",
        "{'a': 1}", "[1, 2", ""})
    void malformedJsonIsOneCleanLine(String text) throws IOException {
        Path f = dir.resolve("config.json");
        Files.writeString(f, text);
        CheckpointException e = assertThrows(CheckpointException.class, () -> JsonFiles.readObject(f));
        String m = e.getMessage();
        assertTrue(m.startsWith(f.toString() + ": "), m);
        assertFalse(m.contains("com.google") || m.contains("Exception") || m.contains("http") || m.contains("\n"), m);
    }

    @Test
    void placeOfTheErrorIsNamed() throws IOException {
        Path f = dir.resolve("config.json");
        Files.writeString(f, "{\n  \"hidden_size\": 64,\n  \"vocab_size\" 512\n}");
        CheckpointException e = assertThrows(CheckpointException.class, () -> JsonFiles.readObject(f));
        assertTrue(e.getMessage().contains("line 3"), e.getMessage());
    }

    @Test
    void exactLongRejectsWhatGsonWouldTruncate() {
        assertEquals(12L, JsonFiles.exactLong(JsonParser.parseString("12")));
        assertEquals(12L, JsonFiles.exactLong(JsonParser.parseString("12.0")));
        assertNull(JsonFiles.exactLong(JsonParser.parseString("1.5")));
        assertNull(JsonFiles.exactLong(JsonParser.parseString("1e400")));
        assertNull(JsonFiles.exactLong(JsonParser.parseString("\"12\"")));
        assertNull(JsonFiles.exactLong(JsonParser.parseString("true")));
    }
}
