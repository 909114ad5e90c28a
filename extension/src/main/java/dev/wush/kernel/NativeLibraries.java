package dev.wush.kernel;

import ai.djl.util.Utils;
import dev.wush.Settings;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Loading the kernels' shared libraries from the jar and binding their functions through FFM. */
public final class NativeLibraries {

    private static final Logger LOG = LoggerFactory.getLogger(NativeLibraries.class);

    private NativeLibraries() {}

    /**
     * Maps the Linux x86-64 library {@code resource} (resolved against {@code anchor}) for the life of the JVM. It is
     * extracted once per library build into {@link #directory()}, under a name derived from its content, and later
     * JVMs map that file; where the directory cannot be written, it goes to a temporary file deleted once mapped.
     * {@code whenMissing} says why a jar may lack it.
     */
    public static SymbolLookup load(Class<?> anchor, String resource, String whenMissing) throws IOException {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "");
        if (!os.contains("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
            throw new UnsatisfiedLinkError("no " + resource + " built for " + os + "/" + arch);
        }
        byte[] library;
        try (InputStream in = anchor.getResourceAsStream(resource)) {
            if (in == null) {
                throw new UnsatisfiedLinkError("resource " + resource + " is not in the jar (" + whenMissing + ")");
            }
            library = in.readAllBytes();
        }
        String fileName = resource.substring(resource.lastIndexOf('/') + 1);
        Path cached = directory().resolve(contentId(library)).resolve(fileName);
        try {
            extract(library, cached);
            return SymbolLookup.libraryLookup(cached, Arena.global());
        } catch (IOException | IllegalArgumentException e) {
            LOG.debug("cannot use {} ({}); extracting {} to a temporary file", cached, e.toString(), fileName);
        }
        Path file;
        try {
            file = Files.createTempFile("wush-", ".so");
            Files.write(file, library);
        } catch (IOException e) {
            throw new IOException("could not extract " + resource + " to " + cached.getParent() + " or to "
                    + System.getProperty("java.io.tmpdir") + ": " + e, e);
        }
        try {
            return SymbolLookup.libraryLookup(file, Arena.global());
        } finally {
            Files.deleteIfExists(file); // mapped already; nothing left behind in the temp directory
        }
    }

    /**
     * Where native libraries are extracted: the setting {@code wush.native.dir} ({@code WUSH_NATIVE_DIR}), else
     * {@code wush/native} in DJL's cache directory ({@code DJL_CACHE_DIR}, by default {@code ~/.djl.ai}).
     */
    public static Path directory() {
        String configured = Settings.get(Settings.NATIVE_DIR);
        return configured != null && !configured.isBlank() ? Path.of(configured) : Utils.getCacheDir().resolve("wush").resolve("native");
    }

    /** The first 16 hex digits of the SHA-256 of the library: a new build gets a new directory. */
    static String contentId(byte[] library) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(library), 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    /** Writes {@code library} to {@code target} unless it holds exactly those bytes (temporary file, then an atomic rename). */
    static void extract(byte[] library, Path target) throws IOException {
        if (Files.isRegularFile(target) && Files.size(target) == library.length
                && Arrays.equals(Files.readAllBytes(target), library)) {
            return;
        }
        Files.createDirectories(target.getParent());
        Path tmp = Files.createTempFile(target.getParent(), target.getFileName().toString(), ".tmp");
        try {
            Files.write(tmp, library);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** How a library's binding is made; may throw anything that loading and binding throw. */
    @FunctionalInterface
    public interface Binder<T> {
        T bind() throws Throwable;
    }

    /** A library's binding, or (instance null) why it could not be made. */
    public record Loaded<T>(T instance, String error) {

        /** Runs {@code binder} once; UnsatisfiedLinkError, IllegalCallerException (native access denied), IOException become the error. */
        public static <T> Loaded<T> attempt(Binder<T> binder) {
            try {
                return new Loaded<>(binder.bind(), null);
            } catch (Throwable e) {
                return new Loaded<>(null, e.getClass().getSimpleName() + ": " + e.getMessage());
            }
        }
    }

    /** The NUL-terminated string a native function returned. */
    public static String string(MemorySegment chars) {
        return chars.reinterpret(1024).getString(0);
    }

    /** A downcall handle for {@code symbol}, or an UnsatisfiedLinkError naming it. */
    public static MethodHandle downcall(SymbolLookup lib, String symbol, FunctionDescriptor fd, Linker.Option... options) {
        MemorySegment address = lib.find(symbol).orElseThrow(() -> new UnsatisfiedLinkError("symbol " + symbol + " not found"));
        return Linker.nativeLinker().downcallHandle(address, fd, options);
    }

    /** What a downcall threw, as an unchecked exception (errors are thrown as they are). */
    public static RuntimeException rethrow(Throwable e) {
        if (e instanceof RuntimeException r) {
            return r;
        }
        if (e instanceof Error err) {
            throw err;
        }
        return new IllegalStateException(e);
    }
}
