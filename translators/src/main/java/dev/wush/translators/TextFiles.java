package dev.wush.translators;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Reads the UTF-8 text a command or argument names. */
public final class TextFiles {

    private TextFiles() {}

    /**
     * The file's text; a missing file is reported with the option or argument that named it
     * ({@code --data path}: no such file).
     */
    public static String read(Path file, String namedBy) throws IOException {
        try {
            return Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(namedBy + " " + file);
        }
    }
}
