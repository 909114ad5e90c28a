package dev.wush.cli;

import dev.wush.io.OutputDirectory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Collection;

/** {@code --out} and {@code --overwrite} of the commands that write a directory, in the words of the command line. */
final class OutOption {

    private OutOption() {}

    /**
     * Checks {@code out} and creates its staging directory beside it (see {@link OutputDirectory}), so an
     * existing, protected or unwritable {@code --out} fails before any work; notes go to stderr.
     */
    static OutputDirectory prepare(Path out, boolean overwrite, OutputDirectory.Ownership ownership, Collection<Path> inputs)
            throws IOException {
        if (Files.exists(out, LinkOption.NOFOLLOW_LINKS) && !overwrite && !OutputDirectory.isEmptyDirectory(out)) {
            throw new IllegalArgumentException("--out " + out + " exists (use --overwrite to replace a previous result)");
        }
        try {
            return OutputDirectory.prepare(out, overwrite, ownership, inputs, note -> System.err.println("note: " + note));
        } catch (IOException e) {
            throw new IOException("--out " + WushCli.message(e), e);
        }
    }

    /** The error for a write into the staging directory that failed: where, and that nothing changed. */
    static IOException writeFailed(Path out, IOException e) {
        return new IOException("--out " + out + ": writing the result failed (" + WushCli.message(e)
                + "); nothing was replaced and no partial result is left", e);
    }
}
