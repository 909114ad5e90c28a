package dev.wush.cli;

import dev.wush.translators.TextFiles;
import dev.wush.translators.TextTokenizer;
import dev.wush.translators.TokenWindows;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --calib}, {@code --window}, {@code --calib-windows}: which tokens calibrate. */
final class CalibrationOptions {

    @Option(names = "--calib", required = true, paramLabel = "FILE",
            description = "Calibration text (UTF-8), encoded with BOS once at the start and cut into windows.")
    Path calib;

    @Option(names = "--window", defaultValue = "256", paramLabel = "L", description = "Window length in tokens (default 256).")
    int window;

    @Option(names = "--calib-windows", defaultValue = "128", paramLabel = "N",
            description = "Number of leading windows to use (default 128).")
    int windows;

    /** The first {@code --calib-windows} windows of the calibration text. */
    long[][] windows(TextTokenizer tokenizer, PrintStream notes) throws IOException {
        if (window < 2) {
            throw new IllegalArgumentException("--window must be at least 2, got " + window);
        }
        if (windows < 1) {
            throw new IllegalArgumentException("--calib-windows must be at least 1, got " + windows);
        }
        long[] tokens = tokenizer.encodeWithBos(TextFiles.read(calib, "--calib"));
        long[][] leading = TokenWindows.leading(tokens, window, windows, "calibration text " + calib);
        if (leading.length < windows) {
            notes.printf("note: %s gives %d windows of %d tokens, fewer than --calib-windows %d; using %d%n",
                    calib, leading.length, window, windows, leading.length);
        }
        return leading;
    }
}
