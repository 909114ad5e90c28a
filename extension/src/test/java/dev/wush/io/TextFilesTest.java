package dev.wush.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Text inputs fail with the option's name and a reason in words, never the JDK's bare "Input length = 1". */
class TextFilesTest {

    @TempDir
    Path dir;

    @Test
    void readsUtf8() throws IOException {
        Path f = dir.resolve("a.txt");
        Files.writeString(f, "héllo ✓");
        assertEquals("héllo ✓", TextFiles.read(f, "--data"));
    }

    @Test
    void binaryFileNamesTheOffsetOfTheFirstBadByte() throws IOException {
        Path f = dir.resolve("b.bin");
        byte[] bytes = "ok text".getBytes(StandardCharsets.UTF_8);
        byte[] bad = new byte[bytes.length + 2];
        System.arraycopy(bytes, 0, bad, 0, bytes.length);
        bad[bytes.length] = (byte) 0xFF;
        bad[bytes.length + 1] = 'x';
        Files.write(f, bad);
        IOException e = assertThrows(IOException.class, () -> TextFiles.read(f, "--calib"));
        assertEquals("--calib " + f + ": not UTF-8 text (invalid byte 0xff at offset 7)", e.getMessage());
    }

    @Test
    void truncatedMultiByteCharacterAtTheEndIsAnError() throws IOException {
        Path f = dir.resolve("t.txt");
        Files.write(f, new byte[] {'a', (byte) 0xE2, (byte) 0x9C}); // the first two bytes of ✓
        IOException e = assertThrows(IOException.class, () -> TextFiles.read(f, "--data"));
        assertTrue(e.getMessage().contains("not UTF-8 text") && e.getMessage().contains("offset 1"), e.getMessage());
    }

    @Test
    void directoryAndMissingFileAreSaidInWords() {
        IOException d = assertThrows(IOException.class, () -> TextFiles.read(dir, "--data"));
        assertEquals("--data " + dir + ": is a directory, not a file", d.getMessage());
        IOException m = assertThrows(IOException.class, () -> TextFiles.read(dir.resolve("nope"), "--data"));
        assertEquals("--data " + dir.resolve("nope") + ": no such file", m.getMessage());
    }
}
