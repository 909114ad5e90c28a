package dev.wush.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a result directory may replace, and that every interrupted state recovers to a whole result. */
class OutputDirectoryTest {

    @TempDir
    Path dir;

    final List<String> notes = new ArrayList<>();

    /** A previous result is a directory holding exactly one file, "result". */
    static final OutputDirectory.Ownership RESULT = d -> {
        try (Stream<Path> s = Files.list(d)) {
            List<String> names = s.map(p -> p.getFileName().toString()).sorted().toList();
            return names.equals(List.of("result")) ? null : "it holds " + names;
        }
    };

    Path result(String name, String content) throws IOException {
        Path d = Files.createDirectories(dir.resolve(name));
        Files.writeString(d.resolve("result"), content);
        return d;
    }

    OutputDirectory prepare(Path out, boolean overwrite, Path... inputs) throws IOException {
        return OutputDirectory.prepare(out, overwrite, RESULT, List.of(inputs), notes::add);
    }

    List<String> siblings() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".")).sorted().toList();
        }
    }

    @Test
    void writesANewResult() throws IOException {
        Path out = dir.resolve("a/b/out");
        try (OutputDirectory o = prepare(out, false)) {
            Files.writeString(o.staging().resolve("result"), "new");
            assertFalse(Files.exists(out), "nothing at the target before the commit");
            o.commit();
        }
        assertEquals("new", Files.readString(out.resolve("result")));
        try (Stream<Path> s = Files.list(out.getParent())) {
            assertEquals(1, s.count(), "no staging left beside the result");
        }
    }

    @Test
    void replacesAPreviousResultOnlyWhenAskedAndRecognised() throws IOException {
        Path out = result("out", "old");
        assertThrows(FileAlreadyExistsException.class, () -> prepare(out, false));
        Files.writeString(out.resolve("notes.txt"), "mine");
        IOException foreign = assertThrows(IOException.class, () -> prepare(out, true));
        assertTrue(foreign.getMessage().contains("not a previous result") && foreign.getMessage().contains("notes.txt"),
                foreign.getMessage());
        assertEquals("mine", Files.readString(out.resolve("notes.txt")), "refused: untouched");
        Files.delete(out.resolve("notes.txt"));
        try (OutputDirectory o = prepare(out, true)) {
            Files.writeString(o.staging().resolve("result"), "new");
            o.commit();
        }
        assertEquals("new", Files.readString(out.resolve("result")));
        assertEquals(List.of(), siblings());
    }

    @Test
    void anEmptyDirectoryIsTakenWithoutOverwriting() throws IOException {
        Path out = Files.createDirectory(dir.resolve("made-ready"));
        try (OutputDirectory o = prepare(out, false)) {
            Files.writeString(o.staging().resolve("result"), "new");
            o.commit();
        }
        assertEquals("new", Files.readString(out.resolve("result")));
        assertEquals(List.of(), siblings());
    }

    @Test
    void neverTheInputNorADirectoryHoldingIt() throws IOException {
        Path model = result("model", "weights");
        IOException same = assertThrows(IOException.class, () -> prepare(model, true, model));
        assertTrue(same.getMessage().contains("is the input"), same.getMessage());
        IOException parent = assertThrows(IOException.class, () -> prepare(dir, true, model));
        assertTrue(parent.getMessage().contains("contains the input"), parent.getMessage());
        // through a symbolic link too
        Path link = Files.createSymbolicLink(dir.resolve("link"), model);
        assertThrows(IOException.class, () -> prepare(link, true, model));
        assertEquals("weights", Files.readString(model.resolve("result")));
        try (OutputDirectory o = prepare(dir.resolve("later"), false)) { // an input known only after prepare
            Path inside = Files.createDirectories(dir.resolve("later/cache"));
            assertThrows(IOException.class, () -> o.checkNotInput(inside));
        }
    }

    @Test
    void unwritableLocationFailsAtPrepare() throws IOException {
        Path file = Files.writeString(dir.resolve("plain.txt"), "x");
        IOException e = assertThrows(IOException.class, () -> prepare(file.resolve("out"), false));
        assertTrue(e.getMessage().contains("is not a directory"), e.getMessage());
        Path notDir = Files.writeString(dir.resolve("target-is-a-file"), "x");
        assertThrows(FileAlreadyExistsException.class, () -> prepare(notDir, true));
    }

    @Test
    void closeWithoutCommitLeavesNothing() throws IOException {
        Path out = dir.resolve("x/y/out");
        try (OutputDirectory o = prepare(out, false)) {
            Files.writeString(o.staging().resolve("result"), "half");
        }
        assertFalse(Files.exists(dir.resolve("x")), "staging and the parents it created are gone");
    }

    @Test
    void resultHasTheUsersDefaultPermissions() throws IOException {
        Set<PosixFilePermission> usual = Files.getPosixFilePermissions(Files.createDirectory(dir.resolve("usual")));
        Path out = dir.resolve("out");
        try (OutputDirectory o = prepare(out, false)) {
            o.commit();
        }
        assertEquals(usual, Files.getPosixFilePermissions(out));
    }

    /** A sibling owned by a process that is not running (pid 2^22 + 1 exceeds Linux's pid_max). */
    static final String DEAD = "4194305-1000-abc";

    @Test
    void unfinishedStagingOfAnInterruptedRunIsRemoved() throws IOException {
        Path stale = result(".out.partial-" + DEAD, "half");
        Path legacy = result(".out.partial-8123456", "half"); // named by an earlier version (no owner)
        try (OutputDirectory o = prepare(dir.resolve("out"), false)) {
            o.commit();
        }
        assertFalse(Files.exists(stale) || Files.exists(legacy));
        assertEquals(2, notes.size(), notes.toString());
        assertTrue(notes.getFirst().startsWith("removed ") && notes.getFirst().contains("interrupted"), notes.toString());
    }

    @Test
    void killedBetweenTheTwoRenamesRestoresTheOldResult() throws IOException {
        // the state after step 1 of a commit: old result aside, new one still staged, target absent
        Path aside = result(".out.old-" + DEAD, "old");
        Path staged = result(".out.partial-" + DEAD, "new");
        try (OutputDirectory o = prepare(dir.resolve("out"), true)) {
            assertEquals("old", Files.readString(dir.resolve("out/result")), "restored before anything else");
            Files.writeString(o.staging().resolve("result"), "newer");
            o.commit();
        }
        assertEquals("newer", Files.readString(dir.resolve("out/result")));
        assertFalse(Files.exists(aside) || Files.exists(staged));
        assertTrue(notes.stream().anyMatch(n -> n.startsWith("restored ")), notes.toString());
        assertEquals(List.of(), siblings());
    }

    @Test
    void killedBeforeTheOldOneWasDeletedRemovesIt() throws IOException {
        // the state after step 2: new result in place, old one still aside
        result("out", "new");
        Path aside = result(".out.old-" + DEAD, "old");
        try (OutputDirectory o = prepare(dir.resolve("out"), true)) {
            assertEquals("new", Files.readString(dir.resolve("out/result")));
        }
        assertFalse(Files.exists(aside));
        assertEquals("new", Files.readString(dir.resolve("out/result")), "closing without commit keeps the result");
    }

    @Test
    void siblingsOfARunningProcessAreLeftAlone() throws IOException {
        ProcessHandle self = ProcessHandle.current();
        String live = self.pid() + "-" + self.info().startInstant().orElseThrow().toEpochMilli() + "-1";
        Path running = result(".out.partial-" + live, "busy");
        try (OutputDirectory o = prepare(dir.resolve("out"), false)) {
            assertTrue(Files.exists(running));
        }
        assertTrue(Files.exists(running) && notes.isEmpty(), notes.toString());
    }
}
