package dev.wush.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;

/**
 * Where {@code WUSH_MEMORY_MARKS} names a file, commands append one line per phase they finish:
 * {@code phase vmhwm_kb vmrss_kb seconds_since_process_start [detail]}, read from {@code /proc/self/status}.
 * {@code wush bench-scale} runs each step in a child process and reads these lines; nothing is
 * written otherwise.
 */
final class MemoryMarks {

    static final String ENV = "WUSH_MEMORY_MARKS";
    private static final java.time.Instant START = ProcessHandle.current().info().startInstant().orElse(java.time.Instant.now());

    private MemoryMarks() {}

    /** Records the peak and current resident memory at the end of {@code phase}. */
    static void mark(String phase, String detail) {
        String file = System.getenv(ENV);
        if (file == null || file.isEmpty()) {
            return;
        }
        long[] kb = residentKb();
        String line = String.format(Locale.ROOT, "%s %d %d %.3f%s%n", phase, kb[0], kb[1], java.time.Duration.between(START, java.time.Instant.now()).toNanos() / 1e9,
                detail == null ? "" : " " + detail);
        try {
            Files.writeString(Path.of(file), line, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            System.err.println("wush: warning: cannot append to " + ENV + " file " + file + ": " + e.getMessage());
        }
    }

    /** {VmHWM, VmRSS} of this process in kB; -1 where /proc is not available. */
    static long[] residentKb() {
        long[] kb = {-1, -1};
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    kb[0] = Long.parseLong(line.replaceAll("[^0-9]", ""));
                } else if (line.startsWith("VmRSS:")) {
                    kb[1] = Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | NumberFormatException e) {
            // not Linux: no figures
        }
        return kb;
    }
}
