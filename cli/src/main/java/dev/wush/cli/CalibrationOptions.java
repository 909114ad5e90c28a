package dev.wush.cli;

import dev.wush.io.TextFiles;
import dev.wush.translators.TextTokenizer;
import dev.wush.translators.TokenWindows;
import dev.wush.zoo.llama.LlamaConfig;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --calib}, {@code --window}, {@code --calib-windows} or {@code --calib-tokens}: which tokens calibrate. */
final class CalibrationOptions {

    @Option(names = "--calib", required = true, paramLabel = "FILE",
            description = "Calibration text (UTF-8), encoded with BOS once at the start and cut into windows.")
    Path calib;

    @Option(names = "--window", defaultValue = "256", paramLabel = "L", description = "Window length in tokens (default 256).")
    int window;

    @Option(names = "--calib-windows", paramLabel = "N", description = "Number of leading windows to use (default 128).")
    Integer windowCount;

    @Option(names = "--calib-tokens", paramLabel = "T",
            description = "Instead of --calib-windows: about T calibration tokens (rounded up to whole windows).")
    Long tokens;

    /** Windows to use, from --calib-windows or --calib-tokens; set by {@link #check()}. */
    int windows = 128;

    private String text;

    /** Checks the numbers and reads the calibration text: everything that needs no model. */
    void check() throws IOException {
        if (window < 2) {
            throw new IllegalArgumentException("--window must be at least 2, got " + window);
        }
        if (windowCount != null && tokens != null) {
            throw new IllegalArgumentException("--calib-windows and --calib-tokens: give one of them");
        }
        if (tokens != null) {
            if (tokens < 1) {
                throw new IllegalArgumentException("--calib-tokens must be at least 1, got " + tokens);
            }
            windows = Math.toIntExact((tokens + window - 1) / window);
        } else if (windowCount != null) {
            if (windowCount < 1) {
                throw new IllegalArgumentException("--calib-windows must be at least 1, got " + windowCount);
            }
            windows = windowCount;
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

    /** The first {@code --calib-windows} windows (or enough for {@code --calib-tokens}) of the calibration text. */
    long[][] windows(TextTokenizer tokenizer, PrintStream notes) throws IOException {
        if (text == null) {
            check();
        }
        long[] ids = tokenizer.encodeWithBos(text);
        long[][] leading = TokenWindows.leading(ids, window, windows, "--calib " + calib);
        if (leading.length < windows) {
            notes.printf("note: %s gives %d windows of %d tokens, fewer than the %d asked for; using %d%n",
                    calib, leading.length, window, windows, leading.length);
        }
        return leading;
    }
}
