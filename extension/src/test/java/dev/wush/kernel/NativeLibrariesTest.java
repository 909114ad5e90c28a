package dev.wush.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Native libraries are extracted once per build into the cache directory, and a damaged copy is replaced. */
class NativeLibrariesTest {

    @Test
    void extractionHappensOncePerContentAndRepairsADamagedCopy(@TempDir Path dir) throws Exception {
        byte[] library = "not really a library".getBytes(StandardCharsets.UTF_8);
        Path target = dir.resolve(NativeLibraries.contentId(library)).resolve("libwushkernels.so");
        NativeLibraries.extract(library, target);
        assertArrayEquals(library, Files.readAllBytes(target));
        FileTime written = FileTime.fromMillis(1_000_000);
        Files.setLastModifiedTime(target, written);
        NativeLibraries.extract(library, target);
        assertEquals(written, Files.getLastModifiedTime(target), "an intact copy is not written again");

        byte[] damaged = library.clone();
        damaged[0] ^= 1;
        Files.write(target, damaged);
        NativeLibraries.extract(library, target);
        assertArrayEquals(library, Files.readAllBytes(target), "a copy of the same size but other bytes is replaced");
        try (Stream<Path> files = Files.list(target.getParent())) {
            assertEquals(1, files.count(), "no temporary files left behind");
        }
        byte[] rebuilt = "another build".getBytes(StandardCharsets.UTF_8);
        assertNotEquals(NativeLibraries.contentId(library), NativeLibraries.contentId(rebuilt));
        assertEquals(16, NativeLibraries.contentId(rebuilt).length());
    }

    @Test
    void theDirectoryFollowsTheSettingElseDjlsCache() {
        String before = System.getProperty("wush.native.dir");
        try {
            System.setProperty("wush.native.dir", "/some/where");
            assertEquals(Path.of("/some/where"), NativeLibraries.directory());
            System.clearProperty("wush.native.dir");
            assertTrue(NativeLibraries.directory().endsWith(Path.of("wush", "native")), NativeLibraries.directory().toString());
        } finally {
            if (before != null) {
                System.setProperty("wush.native.dir", before);
            }
        }
    }
}
