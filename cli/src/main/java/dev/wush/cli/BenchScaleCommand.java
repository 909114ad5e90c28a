package dev.wush.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code wush bench-scale}: the whole job at a real model's size, each step in its own JVM so that its
 * peak resident memory (VmHWM) is its own: make a bf16 checkpoint of the model's shapes, quantize it
 * (RTN + WUSH, MXFP4 by default), load the result and generate. Prints one table.
 */
@Command(name = "bench-scale", mixinStandardHelpOptions = true,
        description = "Make a synthetic bf16 checkpoint of a real model's shapes, quantize it, load it and generate,"
                + " each step in a child JVM; print wall time and peak resident memory (VmHWM) of each step.")
final class BenchScaleCommand implements Callable<Integer> {

    static final String MARKER = ".wush-bench-scale";

    @Option(names = "--like", defaultValue = "llama-3.1-8b", paramLabel = "NAME",
            description = "Shapes of: llama-3.1-8b (default), llama-3.1-70b, llama-3.2-1b, llama-3.2-3b.")
    String like;

    @Option(names = "--layers", paramLabel = "N", description = "Decoder blocks (default: the model's).")
    Integer layers;

    @Option(names = "--dir", required = true, paramLabel = "DIR",
            description = "Work directory for the checkpoints (new or empty; about 20 GB for llama-3.1-8b).")
    Path dir;

    @Option(names = "--overwrite", description = "Reuse --dir if it is a previous bench-scale directory.")
    boolean overwrite;

    @Option(names = "--keep", description = "Keep the checkpoints in --dir afterwards (default: delete them after a successful run; a failed step keeps them).")
    boolean keep;

    @Option(names = "--calib", required = true, paramLabel = "FILE", description = "Calibration text.")
    Path calib;

    @Option(names = "--window", defaultValue = "512", paramLabel = "L", description = "Calibration window (default 512).")
    int window;

    @Option(names = "--calib-windows", defaultValue = "8", paramLabel = "N", description = "Calibration windows (default 8).")
    int windows;

    @Option(names = "--format", defaultValue = "mxfp4", paramLabel = "F", description = "Quantization format (default mxfp4).")
    String format;

    @Option(names = "--method", defaultValue = "rtn", paramLabel = "M", description = "rtn (default) or gptq.")
    String method;

    @Option(names = "--max-tokens", defaultValue = "32", paramLabel = "N", description = "Tokens to generate (default 32).")
    int maxTokens;

    @Option(names = "--xmx", defaultValue = "3g", paramLabel = "SIZE",
            description = "Java heap of each step (-Xmx; default 3g). Native memory (weights) is outside it.")
    String xmx;

    /** One measured step. */
    record Step(String name, double seconds, long peakBytes, String note) {}

    @Override
    public Integer call() throws Exception {
        if (!Files.isRegularFile(calib)) {
            throw new IllegalArgumentException("--calib " + calib + ": no such file");
        }
        if (!xmx.matches("[0-9]+[kmgKMG]?")) {
            throw new IllegalArgumentException("--xmx " + xmx + ": expected a size such as 3g or 2048m");
        }
        prepareDir();
        Path model = dir.resolve("model");
        Path quantized = dir.resolve("quantized");
        Path marks = dir.resolve("marks.txt");
        List<Step> steps = new ArrayList<>();
        boolean done = false;
        try {
            List<String> make = new ArrayList<>(List.of("make-model", "--like", like, "--dtype", "bf16", "--seed", "0",
                    "--out", model.toString()));
            if (layers != null) {
                make.addAll(List.of("--layers", layers.toString()));
            }
            WushProcess.Result m = child(make, marks, dir.resolve("make-model.log"));
            steps.add(new Step("make-model (bf16)", m.seconds("exit"), m.peakBytes("exit"), gb(size(model)) + " GB written"));

            m = child(List.of("quantize", "--model", model.toString(), "--calib", calib.toString(), "--window", "" + window,
                    "--calib-windows", "" + windows, "--format", format, "--method", method, "--transform", "wush",
                    "--out", quantized.toString()), marks, dir.resolve("quantize.log"));
            steps.add(new Step("quantize (" + method + " + wush, " + format + ")", m.seconds("exit"), m.peakBytes("exit"),
                    windows + "×" + window + " calibration tokens; " + gb(size(quantized)) + " GB written"));

            m = child(List.of("generate", "--model", quantized.toString(), "--prompt", "Once upon a time",
                    "--max-tokens", "" + maxTokens), marks, dir.resolve("generate.log"));
            steps.add(new Step("load quantized", m.seconds("loaded"), m.peakBytes("loaded"), ""));
            double genSeconds = Double.parseDouble(m.detail("generated", "seconds"));
            int tokens = Integer.parseInt(m.detail("generated", "tokens"));
            steps.add(new Step("generate " + tokens + " tokens", genSeconds, m.peakBytes("generated"),
                    String.format(Locale.ROOT, "%.2f tokens/s", tokens / genSeconds)));
            done = true;
        } finally {
            print(steps); // what was measured, also when a step failed
            if (!keep && done) { // after a failure the checkpoints stay, to look into or rerun a step on
                delete(model);
                delete(quantized);
            }
        }
        return 0;
    }

    private void prepareDir() throws IOException {
        if (Files.exists(dir)) {
            if (!Files.isDirectory(dir)) {
                throw new IllegalArgumentException("--dir " + dir + ": exists and is not a directory");
            }
            boolean empty;
            try (Stream<Path> s = Files.list(dir)) {
                empty = s.findAny().isEmpty();
            }
            if (!empty && !Files.exists(dir.resolve(MARKER))) {
                throw new IllegalArgumentException("--dir " + dir + ": not empty and not a bench-scale directory; choose a new one");
            }
            if (!empty && !overwrite) {
                throw new IllegalArgumentException("--dir " + dir + ": holds a previous bench-scale run; add --overwrite to reuse it");
            }
            for (String name : List.of("model", "quantized")) {
                delete(dir.resolve(name));
            }
            Files.deleteIfExists(dir.resolve("marks.txt"));
        }
        Files.createDirectories(dir);
        Files.writeString(dir.resolve(MARKER), "a work directory of wush bench-scale; --overwrite may reuse it\n");
    }

    /** Runs {@code wush ARGS} in a child JVM like this one; a failed step is an error naming its log. */
    private WushProcess.Result child(List<String> args, Path marks, Path log) throws IOException, InterruptedException {
        System.err.println("bench-scale: wush " + String.join(" ", args));
        WushProcess.Result r = WushProcess.run(xmx, args, marks, log, false);
        if (r.exitCode() != 0) {
            throw new IOException("step 'wush " + args.getFirst() + "' failed with exit code " + r.exitCode() + " (its output: " + log + ")");
        }
        return r;
    }

    private static long size(Path p) throws IOException {
        try (Stream<Path> s = Files.walk(p)) {
            return s.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum();
        }
    }

    private static String gb(long bytes) {
        return String.format(Locale.ROOT, "%.2f", bytes / 1e9);
    }

    private static void delete(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path f : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(f);
            }
        }
    }

    private void print(List<Step> steps) throws IOException {
        String cpu = "unknown CPU";
        for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
            if (line.startsWith("model name")) {
                cpu = line.substring(line.indexOf(':') + 1).trim();
                break;
            }
        }
        long memKb = 0;
        for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
            if (line.startsWith("MemTotal:")) {
                memKb = Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        System.out.printf(Locale.ROOT, "%s shapes%s on %s, %d cores, %.0f GB RAM, -Xmx%s per step%n", like,
                layers == null ? "" : " (" + layers + " decoder blocks)", cpu, Runtime.getRuntime().availableProcessors(),
                memKb / 1e6, xmx);
        System.out.println();
        System.out.println("| step | wall time | peak resident (VmHWM) | notes |");
        System.out.println("|---|---:|---:|---|");
        for (Step s : steps) {
            System.out.printf(Locale.ROOT, "| %s | %.1f s | %.2f GB | %s |%n", s.name(), s.seconds(), s.peakBytes() / 1e9, s.note());
        }
    }
}
