package dev.wush.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code wush ARGS} run in a child JVM like this one (same java, same class path), with its memory
 * marks ({@link MemoryMarks}) recorded: the child's peak resident memory is then its own step's, not
 * that of whatever ran before it in this process. Used by {@code wush bench-scale} and by the tests
 * that bound a step's memory.
 */
public final class WushProcess {

    /** A finished child: its exit code and its memory marks by phase. */
    public record Result(int exitCode, Map<String, String[]> marks) {

        /** The mark of {@code phase}: {@code phase vmhwm_kb vmrss_kb seconds [key=value …]}. */
        public String[] mark(String phase) {
            String[] f = marks.get(phase);
            if (f == null) {
                throw new IllegalStateException("the step recorded no '" + phase + "' memory mark");
            }
            return f;
        }

        /** Peak resident memory (VmHWM) when {@code phase} ended, in bytes. */
        public long peakBytes(String phase) {
            return Long.parseLong(mark(phase)[1]) * 1024;
        }

        /** Seconds from the child's start to the end of {@code phase}. */
        public double seconds(String phase) {
            return Double.parseDouble(mark(phase)[3]);
        }

        /** The {@code key=value} detail of a mark. */
        public String detail(String phase, String key) {
            for (String f : mark(phase)) {
                if (f.startsWith(key + "=")) {
                    return f.substring(key.length() + 1);
                }
            }
            throw new IllegalStateException("memory mark '" + phase + "' without " + key);
        }
    }

    private WushProcess() {}

    /**
     * Runs {@code wush args} with heap {@code xmx}; its standard output goes to {@code log}, its
     * standard error too when {@code errorToLog} (else to this process's), its marks to {@code marks}
     * (replaced).
     */
    public static Result run(String xmx, List<String> args, Path marks, Path log, boolean errorToLog)
            throws IOException, InterruptedException {
        Files.deleteIfExists(marks);
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "-Xmx" + xmx, "--enable-native-access=ALL-UNNAMED", "-Dai.djl.offline=true",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", System.getProperty("java.class.path"),
                WushCli.class.getName()));
        command.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(log.toFile());
        if (errorToLog) {
            pb.redirectErrorStream(true);
        } else {
            pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        }
        pb.environment().put(MemoryMarks.ENV, marks.toString());
        int code = pb.start().waitFor();
        Map<String, String[]> byPhase = new LinkedHashMap<>();
        if (Files.exists(marks)) {
            for (String line : Files.readAllLines(marks)) {
                String[] f = line.trim().split(" ");
                byPhase.put(f[0], f);
            }
        }
        return new Result(code, byPhase);
    }
}
