package dev.wush.kernel;

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
import java.util.Locale;

/** Loading the kernels' shared libraries from the jar and binding their functions through FFM. */
public final class NativeLibraries {

    private NativeLibraries() {}

    /**
     * Extracts the Linux x86-64 library {@code resource} (resolved against {@code anchor}) to a temporary file,
     * maps it for the life of the JVM and deletes the file. {@code whenMissing} says why a jar may lack it.
     */
    public static SymbolLookup load(Class<?> anchor, String resource, String whenMissing) throws IOException {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "");
        if (!os.contains("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
            throw new UnsatisfiedLinkError("no " + resource + " built for " + os + "/" + arch);
        }
        Path file;
        try (InputStream in = anchor.getResourceAsStream(resource)) {
            if (in == null) {
                throw new UnsatisfiedLinkError("resource " + resource + " is not in the jar (" + whenMissing + ")");
            }
            file = Files.createTempFile("wush-", ".so");
            Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new IOException("could not extract " + resource + " to " + System.getProperty("java.io.tmpdir") + ": " + e, e);
        }
        try {
            return SymbolLookup.libraryLookup(file, Arena.global());
        } finally {
            Files.deleteIfExists(file); // mapped already; nothing left behind in the temp directory
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
