package dev.wush.cli;

import dev.wush.io.TextFiles;
import dev.wush.translators.TextTokenizer;
import dev.wush.translators.TokenWindows;
import dev.wush.zoo.llama.LlamaConfig;
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

    private String text;

    /** Checks the numbers and reads the calibration text: everything that needs no model. */
    void check() throws IOException {
        if (window < 2) {
            throw new IllegalArgumentException("--window must be at least 2, got " + window);
        }
        if (windows < 1) {
            throw new IllegalArgumentException("--calib-windows must be at least 1, got " + windows);
        }
        text = TextFiles.read(calib, "--calib");
        if (text.isBlank()) {
            throw new IllegalArgumentException("--calib " + calib + ": the file holds no text");
        }
    }

    /** Checks the window against the model's context, before the model is loaded. */
    void check(LlamaConfig config, Path modelDir) {
        config.requireWindow("--window", window, modelDir);
    }

    /** The first {@code --calib-windows} windows of the calibration text. */
    long[][] windows(TextTokenizer tokenizer, PrintStream notes) throws IOException {
        if (text == null) {
            check();
        }
        long[] tokens = tokenizer.encodeWithBos(text);
        long[][] leading = TokenWindows.leading(tokens, window, windows, "--calib " + calib);
        if (leading.length < windows) {
            notes.printf("note: %s gives %d windows of %d tokens, fewer than --calib-windows %d; using %d%n",
                    calib, leading.length, window, windows, leading.length);
        }
        return leading;
    }
}
