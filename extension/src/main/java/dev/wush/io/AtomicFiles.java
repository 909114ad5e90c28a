package dev.wush.io;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Single files written whole or not at all: the content goes to a new sibling
 * {@code .NAME.partial-PID-TAG}, which is renamed over the target. The sibling is created like any
 * file of the user's (the umask decides its mode), unlike {@code Files.createTempFile}'s 0600, so the
 * renamed result has the permissions the user expects.
 */
public final class AtomicFiles {

    private AtomicFiles() {}

    /** A new path beside {@code target} to stage its content in (not created). */
    public static Path stagingPath(Path target) {
        Path abs = target.toAbsolutePath();
        return abs.resolveSibling("." + abs.getFileName() + ".partial-" + ProcessHandle.current().pid() + "-"
                + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 16));
    }

    /** Writes {@code content} as UTF-8 to {@code target}, replacing it atomically. */
    public static void writeString(Path target, String content) throws IOException {
        Files.createDirectories(target.toAbsolutePath().getParent());
        Path tmp = stagingPath(target);
        try {
            Files.write(tmp, content.getBytes(StandardCharsets.UTF_8), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
