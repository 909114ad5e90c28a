package dev.wush.bench;

import dev.wush.kernel.Fp4Kernels;
import dev.wush.kernel.PackedLayer;
import dev.wush.quant.format.Mxfp4;
import dev.wush.quant.format.Nvfp4;
import dev.wush.quant.format.QuantFormat;
import dev.wush.quant.transform.TransformKind;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Runs the JMH benchmarks and prints them as tables of ratios against DJL fp32 measured in the same run:
 * per-layer GEMV/GEMM, resident memory per weight, memory bandwidth and end-to-end decode.
 */
@Command(name = "wush-bench", mixinStandardHelpOptions = true,
        description = "Packed FP4 kernels vs DJL fp32 (JMH): layers of Llama-3.1-8B shapes, memory per weight, bandwidth,"
                + " and decode tokens/s of a random Llama-3.2-1B-shaped model.")
public final class BenchMain implements Callable<Integer> {

    @Option(names = "--quick", description = "1 warm-up and 3 measured iterations of 1 s (default: 2 warm-ups, 5 iterations of 2 s).")
    boolean quick;

    @Option(names = "--skip-layers", description = "Leave out the per-layer table.")
    boolean skipLayers;

    @Option(names = "--skip-decode", description = "Leave out end-to-end decode (its set-up builds a 5 GB fp32 model).")
    boolean skipDecode;

    @Option(names = "--batch", split = ",", paramLabel = "B", description = "Batch sizes of the layer table (default 1,16,128).")
    List<String> batches = List.of("1", "16", "128");

    @Option(names = "--shape", split = ",", paramLabel = "OUTxIN", description = "Layer shapes (default 4096x4096,14336x4096,4096x14336).")
    List<String> shapes = List.of("4096x4096", "14336x4096", "4096x14336");

    @Option(names = "--impl", split = ",", paramLabel = "I",
            description = "Layer implementations (default fp32,w4a4,w4a16; also w4a4-java, the Java fallback).")
    List<String> impls = List.of("fp32", "w4a4", "w4a16");

    @Option(names = "--models", split = ",", paramLabel = "LABEL=DIR",
            description = "Checkpoints to measure whole (decode and prefill, loaded as users load them); the first is the"
                    + " baseline of the ratios, e.g. fp32=DIR,mxfp4-wush=DIR2.")
    List<String> models = List.of();

    @Option(names = "--threads", paramLabel = "N", description = "Thread budget of the model table (default: the physical cores).")
    Integer threads;

    public static void main(String[] args) {
        System.exit(new CommandLine(new BenchMain()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        System.out.printf(Locale.ROOT, "CPU: %s; kernels: %s, %d cores, %s %s%n%n", cpuModel(), Fp4Kernels.get().name(),
                Runtime.getRuntime().availableProcessors(), System.getProperty("java.vm.name"), System.getProperty("java.version"));
        if (!models.isEmpty()) {
            printModelTable();
        }
        printMemoryTable();
        double bandwidth = score(run(StreamBenchmark.class, Map.of(), 1)).values().iterator().next();
        double gbPerS = StreamBenchmark.BYTES / (bandwidth * 1e-6) / 1e9;
        System.out.printf(Locale.ROOT, "memory read bandwidth (all cores, 1 GiB, native): %.1f GB/s%n%n", gbPerS);
        if (!skipLayers) {
            printLayerTable(score(run(LayerBenchmark.class, Map.of("shape", shapes, "batch", batches, "impl", impls), 1)), gbPerS);
        }
        if (!skipDecode) {
            printDecodeTable(score(run(DecodeBenchmark.class, Map.of("impl", List.of("fp32", "w4a4-hadamard", "w4a4-wush")), 1)));
        }
        return 0;
    }

    /** The CPU's model name as Linux reports it. */
    static String cpuModel() {
        try (java.util.stream.Stream<String> lines = java.nio.file.Files.lines(java.nio.file.Path.of("/proc/cpuinfo"))) {
            return lines.filter(l -> l.startsWith("model name")).map(l -> l.substring(l.indexOf(':') + 1).trim()).findFirst()
                    .orElse("unknown");
        } catch (java.io.IOException e) {
            return "unknown";
        }
    }

    private void printModelTable() throws Exception {
        Map<String, String> dirs = new java.util.LinkedHashMap<>();
        for (String m : models) {
            int eq = m.indexOf('=');
            if (eq <= 0 || eq == m.length() - 1) {
                throw new IllegalArgumentException("--models " + m + ": expected LABEL=DIR");
            }
            java.nio.file.Path dir = java.nio.file.Path.of(m.substring(eq + 1));
            if (!java.nio.file.Files.isRegularFile(dir.resolve("config.json"))) {
                throw new IllegalArgumentException("--models " + m + ": " + dir + " holds no config.json");
            }
            dirs.put(m.substring(0, eq), dir.toAbsolutePath().toString());
        }
        int n = threads == null ? dev.wush.kernel.KernelThreads.physicalCores() : threads;
        Map<String, Double> ms = score(run(ModelBenchmark.class, Map.of("model", List.copyOf(dirs.values()),
                "threads", List.of(Integer.toString(n))), 1));
        System.out.printf(Locale.ROOT, "whole checkpoints, %d thread%s: decode = %d-token prompt + %d new tokens (greedy, KV cache),"
                + " prefill = one forward pass over %d tokens%n", n, n == 1 ? "" : "s", ModelBenchmark.PROMPT, ModelBenchmark.NEW_TOKENS,
                ModelBenchmark.PREFILL);
        System.out.printf(Locale.ROOT, "%-20s %14s %8s %16s %8s%n", "model", "decode tok/s", "ratio", "prefill tok/s", "ratio");
        double baseDecode = Double.NaN;
        double basePrefill = Double.NaN;
        for (Map.Entry<String, String> e : dirs.entrySet()) {
            String model = "model=" + e.getValue() + ",threads=" + n;
            double decode = ModelBenchmark.NEW_TOKENS / (ms.get(model + "#decode") / 1000);
            double prefill = ModelBenchmark.PREFILL / (ms.get(model + "#prefill") / 1000);
            if (Double.isNaN(baseDecode)) {
                baseDecode = decode;
                basePrefill = prefill;
            }
            System.out.printf(Locale.ROOT, "%-20s %14.2f %7.2f× %16.1f %7.2f×%n", e.getKey(), decode, decode / baseDecode, prefill,
                    prefill / basePrefill);
        }
        System.out.printf(Locale.ROOT, "(ratios against %s, measured in the same run)%n%n", dirs.keySet().iterator().next());
    }

    private Collection<RunResult> run(Class<?> benchmark, Map<String, List<String>> params, int forks) throws Exception {
        ChainedOptionsBuilder b = new OptionsBuilder().include(benchmark.getName() + "\\.").forks(forks)
                .jvmArgsAppend("--enable-native-access=ALL-UNNAMED", "-Dai.djl.offline=true", "-Xmx12g",
                        "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn")
                .warmupIterations(quick ? 1 : 2).measurementIterations(quick ? 3 : 5)
                .warmupTime(TimeValue.seconds(quick ? 1 : 2)).measurementTime(TimeValue.seconds(quick ? 1 : 2));
        params.forEach((k, v) -> b.param(k, v.toArray(String[]::new)));
        return new Runner(b.build()).run();
    }

    /** Mean score (the benchmark's time unit) by "param=value,…" key. */
    private static Map<String, Double> score(Collection<RunResult> results) {
        Map<String, Double> scores = new HashMap<>();
        for (RunResult r : results) {
            List<String> key = new ArrayList<>();
            for (String p : r.getParams().getParamsKeys()) {
                key.add(p + "=" + r.getParams().getParam(p));
            }
            String method = r.getParams().getBenchmark();
            method = method.substring(method.lastIndexOf('.') + 1);
            scores.put(String.join(",", key), r.getPrimaryResult().getScore());
            scores.put(String.join(",", key) + "#" + method, r.getPrimaryResult().getScore());
        }
        return scores;
    }

    private void printMemoryTable() {
        System.out.println("resident memory per weight (codes + scales + transforms + scale table), fp32 = 32 bits:");
        System.out.printf(Locale.ROOT, "%-12s %-8s %10s %10s %10s%n", "layer", "format", "identity", "hadamard", "wush");
        for (String shape : shapes) {
            int out = Integer.parseInt(shape.split("x")[0]);
            int in = Integer.parseInt(shape.split("x")[1]);
            for (QuantFormat f : List.of(Mxfp4.DEFAULT, Nvfp4.FIXED)) {
                StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "%-12s %-8s", shape, f.name()));
                for (TransformKind k : List.of(TransformKind.IDENTITY, TransformKind.HADAMARD, TransformKind.WUSH)) {
                    PackedLayer p = PackedLayer.of(RandomLayers.layer(out, in, f, k, 0), true);
                    row.append(String.format(Locale.ROOT, " %10.3f", 8.0 * p.residentBytes() / ((double) out * in)));
                }
                System.out.println(row);
            }
        }
        System.out.println();
    }

    private void printLayerTable(Map<String, Double> us, double gbPerS) {
        System.out.println("per layer, y = x·Wᵀ, microseconds (speed-up over DJL fp32 matMul in the same run):");
        StringBuilder header = new StringBuilder(String.format(Locale.ROOT, "%-12s %6s", "layer", "batch"));
        for (String impl : impls) {
            header.append(String.format(Locale.ROOT, " %22s", impl));
        }
        header.append(String.format(Locale.ROOT, " %16s", "w4a4 GB/s"));
        System.out.println(header);
        for (String shape : shapes) {
            int out = Integer.parseInt(shape.split("x")[0]);
            int in = Integer.parseInt(shape.split("x")[1]);
            for (String batch : batches) {
                Double base = us.get(key(shape, batch, "fp32"));
                StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "%-12s %6s", shape, batch));
                for (String impl : impls) {
                    Double t = us.get(key(shape, batch, impl));
                    row.append(t == null ? String.format(Locale.ROOT, " %22s", "-")
                            : String.format(Locale.ROOT, " %12.0f (%5.2f×)", t, base == null ? Double.NaN : base / t));
                }
                Double w4 = us.get(key(shape, batch, "w4a4"));
                double bytes = (double) out * in * (4 + 8.0 / 32) / 8; // packed MXFP4 weights and scales read once
                row.append(w4 == null ? "" : String.format(Locale.ROOT, " %9.1f (%3.0f%%)", bytes / (w4 * 1e-6) / 1e9,
                        100 * bytes / (w4 * 1e-6) / 1e9 / gbPerS));
                System.out.println(row);
            }
        }
        System.out.println("(w4a4 GB/s: packed weight bytes / time, and its share of the measured read bandwidth)");
        System.out.println();
    }

    private static String key(String shape, String batch, String impl) {
        return "batch=" + batch + ",impl=" + impl + ",shape=" + shape;
    }

    private void printDecodeTable(Map<String, Double> ms) {
        double fp32 = ms.get("impl=fp32");
        int n = DecodeBenchmark.NEW_TOKENS;
        System.out.println("decode, random Llama-3.2-1B shapes, 8-token prompt + " + n + " new tokens, greedy, KV cache"
                + " (tokens/s: new tokens / whole run, prompt included):");
        System.out.printf(Locale.ROOT, "%-44s %12s %12s %10s%n", "model", "ms / run", "tokens/s", "speed-up");
        System.out.printf(Locale.ROOT, "%-44s %12.0f %12.2f %10.2f%n", "fp32 (DJL)", fp32, n / (fp32 / 1000), 1.0);
        for (String[] row : new String[][] {{"w4a4-hadamard", "W4A4 MXFP4, Hadamard (WushLinear)"},
                {"w4a4-wush", "W4A4 MXFP4, WUSH: dense 32×32 per block"}}) {
            double t = ms.get("impl=" + row[0]);
            System.out.printf(Locale.ROOT, "%-44s %12.0f %12.2f %10.2f%n", row[1], t, n / (t / 1000), fp32 / t);
        }
    }
}
