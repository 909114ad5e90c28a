package dev.wush.io;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * A result directory that appears whole or not at all, and replaces only what it may.
 *
 * <p>{@link #prepare} runs before any long work: it checks the target (never the input, never a
 * directory containing the input, an existing directory only when it is empty, or when overwriting
 * was asked for and the {@link Ownership} check recognises it as a previous result), tidies what interrupted earlier runs
 * left beside it, and creates the staging directory {@code .NAME.partial-OWNER} next to the target,
 * so an unwritable location fails at once. The caller writes into {@link #staging()}; {@link #commit}
 * then swaps it in:
 *
 * <ol>
 *   <li>rename the old target aside to {@code .NAME.old-OWNER} (one rename: the old result is whole,
 *       under one of two names, at every instant);
 *   <li>rename the staging directory to the target;
 *   <li>delete the old one.
 * </ol>
 *
 * A run killed at any point leaves either the old result or the new one at the target, plus a sibling
 * named by its owner (process id and start time). The next {@code prepare} for the same target finds
 * siblings whose owner is no longer running: it deletes unfinished staging directories, deletes a
 * set-aside old result when the target exists, and renames it back when the kill came between steps 1
 * and 2; each of these is reported through the notes callback. Staging and result carry the
 * permissions of any directory the user creates (the umask), not a temporary directory's 0700.
 */
public final class OutputDirectory implements AutoCloseable {

    /** Decides whether an existing directory is a previous result that may be replaced. */
    @FunctionalInterface
    public interface Ownership {
        /** Null when {@code dir} may be replaced; otherwise why not, e.g. "it holds notes.txt". */
        String whyNotReplaceable(Path dir) throws IOException;
    }

    private static final String PARTIAL = ".partial-";
    private static final String OLD = ".old-";

    private final Path target;
    private final Path staging;
    private final boolean overwrite;
    private final Ownership ownership;
    private final List<Path> createdParents;
    private boolean committed;

    private OutputDirectory(Path target, Path staging, boolean overwrite, Ownership ownership, List<Path> createdParents) {
        this.target = target;
        this.staging = staging;
        this.overwrite = overwrite;
        this.ownership = ownership;
        this.createdParents = createdParents;
    }

    /**
     * Checks {@code target} and creates the staging directory beside it.
     *
     * @param overwrite whether an existing target may be replaced (it must also pass {@code ownership})
     * @param inputs files or directories the work reads: the target may be neither one of them nor a
     *     directory that contains one
     * @param notes told, in one line each, what was tidied up from interrupted earlier runs
     */
    public static OutputDirectory prepare(Path target, boolean overwrite, Ownership ownership, Collection<Path> inputs,
            Consumer<String> notes) throws IOException {
        Path out = target.toAbsolutePath().normalize();
        Path parent = out.getParent();
        if (parent == null) {
            throw new IOException(target + ": cannot write a result as the file system root");
        }
        checkInputs(out, target, inputs);
        List<Path> created = createParents(target, parent);
        try {
            recover(out, notes);
            checkReplaceable(out, target, overwrite, ownership);
            Path staging = parent.resolve("." + out.getFileName() + PARTIAL + Owner.current().token());
            try {
                Files.createDirectory(staging);
            } catch (AccessDeniedException e) {
                throw new IOException(target + ": cannot write in " + parent + ": permission denied");
            } catch (FileSystemException e) {
                throw new IOException(target + ": cannot write in " + parent + ": " + reason(e));
            }
            return new OutputDirectory(out, staging, overwrite, ownership, created);
        } catch (IOException | RuntimeException e) {
            deleteCreated(created);
            throw e;
        }
    }

    /** Throws unless the target is neither {@code input} nor a directory containing it (for inputs known only later). */
    public void checkNotInput(Path input) throws IOException {
        checkInputs(target, target, List.of(input));
    }

    private static void checkInputs(Path out, Path named, Collection<Path> inputs) throws IOException {
        Path resolved = resolveExisting(out);
        for (Path input : inputs) {
            if (input != null && Files.exists(input)) {
                Path in = input.toRealPath();
                if (in.equals(resolved)) {
                    throw new IOException(named + " is the input " + input + "; write the result to another directory");
                }
                if (in.startsWith(resolved)) {
                    throw new IOException(named + " contains the input " + input + "; write the result to another directory");
                }
            }
        }
    }

    /** The directory to write into; it becomes the target on {@link #commit}. */
    public Path staging() {
        return staging;
    }

    /** The absolute target path. */
    public Path target() {
        return target;
    }

    /** Swaps the staging directory in (see the class comment for the order of renames). */
    public void commit() throws IOException {
        if (committed) {
            throw new IllegalStateException(target + " is already committed");
        }
        checkReplaceable(target, target, overwrite, ownership); // it may have changed during the work
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            Path aside = target.resolveSibling("." + target.getFileName() + OLD + Owner.current().token());
            Files.move(target, aside, StandardCopyOption.ATOMIC_MOVE);
            try {
                Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException | RuntimeException e) {
                Files.move(aside, target, StandardCopyOption.ATOMIC_MOVE);
                throw e;
            }
            committed = true;
            deleteTree(aside);
        } else {
            Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
            committed = true;
        }
    }

    /** Without a commit: deletes the staging directory and any parent directories {@code prepare} created. */
    @Override
    public void close() throws IOException {
        if (!committed) {
            deleteTree(staging);
            deleteCreated(createdParents);
        }
    }

    private static void checkReplaceable(Path out, Path named, boolean overwrite, Ownership ownership) throws IOException {
        if (Files.isSymbolicLink(out)) {
            throw new IOException(named + " is a symbolic link; give the directory it points to");
        }
        if (!Files.exists(out)) {
            return;
        }
        if (!Files.isDirectory(out)) {
            throw new FileAlreadyExistsException(named.toString(), null, "exists and is not a directory");
        }
        if (isEmptyDirectory(out)) {
            return; // nothing to lose: an empty directory made ready for the result
        }
        if (!overwrite) {
            throw new FileAlreadyExistsException(named.toString(), null, "already exists (replacing it was not asked for)");
        }
        String why = ownership.whyNotReplaceable(out);
        if (why != null) {
            throw new IOException(named + " is not a previous result of this tool (" + why + "); refusing to replace it");
        }
    }

    /** True for a directory with no entries. */
    public static boolean isEmptyDirectory(Path dir) throws IOException {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        try (Stream<Path> entries = Files.list(dir)) {
            return entries.findAny().isEmpty();
        }
    }

    /**
     * Tidies the siblings that interrupted runs for {@code out} left: unfinished staging directories are
     * deleted; an old result set aside is deleted when {@code out} exists and renamed back when not.
     */
    static void recover(Path out, Consumer<String> notes) throws IOException {
        Path parent = out.getParent();
        if (!Files.isDirectory(parent)) {
            return;
        }
        String prefix = "." + out.getFileName();
        List<Path> siblings;
        try (Stream<Path> list = Files.list(parent)) {
            siblings = list.filter(p -> {
                String n = p.getFileName().toString();
                return n.startsWith(prefix + PARTIAL) || n.startsWith(prefix + OLD);
            }).sorted().toList();
        }
        for (Path sibling : siblings) {
            String name = sibling.getFileName().toString();
            boolean partial = name.startsWith(prefix + PARTIAL);
            String owner = name.substring(prefix.length() + (partial ? PARTIAL : OLD).length());
            if (Owner.isRunning(owner)) {
                continue; // another live run is writing or swapping this target
            }
            if (partial) {
                deleteTree(sibling);
                notes.accept("removed " + sibling + ", an unfinished result of an earlier run that was interrupted");
            } else if (Files.exists(out, LinkOption.NOFOLLOW_LINKS)) {
                deleteTree(sibling);
                notes.accept("removed " + sibling + ", a previous result that an interrupted run had already replaced");
            } else {
                Files.move(sibling, out, StandardCopyOption.ATOMIC_MOVE);
                notes.accept("restored " + out + " from " + sibling + ", where an interrupted run had set it aside");
            }
        }
    }

    /** {@code path} with the symbolic links of its deepest existing ancestor resolved. */
    private static Path resolveExisting(Path path) throws IOException {
        Path existing = path;
        List<Path> rest = new ArrayList<>();
        while (existing != null && !Files.exists(existing)) {
            rest.addFirst(existing.getFileName());
            existing = existing.getParent();
        }
        Path resolved = existing == null ? path.getRoot() : existing.toRealPath();
        for (Path r : rest) {
            resolved = resolved.resolve(r);
        }
        return resolved;
    }

    private static List<Path> createParents(Path target, Path parent) throws IOException {
        List<Path> missing = new ArrayList<>();
        Path p = parent;
        while (p != null && !Files.exists(p)) {
            missing.addFirst(p);
            p = p.getParent();
        }
        if (p != null && !Files.isDirectory(p)) {
            throw new IOException(target + ": " + p + " is not a directory");
        }
        List<Path> created = new ArrayList<>();
        try {
            for (Path dir : missing) {
                Files.createDirectory(dir);
                created.add(dir);
            }
        } catch (AccessDeniedException e) {
            deleteCreated(created);
            throw new IOException(target + ": cannot create " + parent + ": permission denied");
        } catch (FileSystemException e) {
            deleteCreated(created);
            throw new IOException(target + ": cannot create " + parent + ": " + reason(e));
        }
        return created;
    }

    private static void deleteCreated(List<Path> created) {
        for (Path dir : created.reversed()) {
            try {
                Files.deleteIfExists(dir);
            } catch (IOException e) {
                return; // not empty (someone else wrote there): leave it and its parents
            }
        }
    }

    /** Deletes a directory tree without following symbolic links out of it. */
    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                try {
                    Files.deleteIfExists(p);
                } catch (NoSuchFileException e) {
                    // already gone
                }
            }
        }
    }

    private static String reason(FileSystemException e) {
        return e.getReason() == null ? "cannot write there" : e.getReason().toLowerCase(java.util.Locale.ROOT);
    }

    /** Who wrote a sibling: process id, process start time and a random tag, e.g. {@code 4242-1764601200000-9f3a}. */
    record Owner(long pid, long startMillis) {

        static Owner current() {
            ProcessHandle self = ProcessHandle.current();
            return new Owner(self.pid(), self.info().startInstant().map(java.time.Instant::toEpochMilli).orElse(0L));
        }

        String token() {
            return pid + "-" + startMillis + "-" + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 16);
        }

        /** True when the owner token names a process that is still running (a token it cannot read is not). */
        static boolean isRunning(String token) {
            String[] parts = token.split("-");
            if (parts.length != 3) {
                return false;
            }
            long pid;
            long start;
            try {
                pid = Long.parseLong(parts[0]);
                start = Long.parseLong(parts[1]);
            } catch (NumberFormatException e) {
                return false;
            }
            return ProcessHandle.of(pid)
                    .filter(ProcessHandle::isAlive)
                    .map(h -> start == 0 || h.info().startInstant().map(i -> i.toEpochMilli() == start).orElse(true))
                    .orElse(false);
        }
    }
}
