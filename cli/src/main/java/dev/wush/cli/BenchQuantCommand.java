package dev.wush.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.wush.quant.format.Mxfp4;
import dev.wush.quant.format.Nvfp4;
import dev.wush.quant.format.QuantFormat;
import dev.wush.quant.layer.Gptq;
import dev.wush.quant.layer.HessianAccumulator;
import dev.wush.quant.layer.LayerInput;
import dev.wush.quant.layer.Rtn;
import dev.wush.quant.transform.TransformKind;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code wush bench-quant}: how long the quantization core takes on Llama-3.1-8B-sized layers,
 * next to a DJL fp32 matrix product of the same layer measured in the same run. With {@code --llama8b}
 * it times GPTQ on all four distinct layer shapes of Llama-3.1-8B and adds them up to an estimate
 * for the whole model.
 */
@Command(name = "bench-quant", mixinStandardHelpOptions = true,
        description = "Time WUSH transforms, RTN and GPTQ on random layers and print a table with"
                + " ratios to one DJL fp32 matMul of that layer over --tokens tokens, measured in the same run.")
final class BenchQuantCommand implements Callable<Integer> {

    @Option(names = "--size", defaultValue = "4096", paramLabel = "N", description = "Layer is N×N (default 4096).")
    int size;

    @Option(names = "--shape", paramLabel = "OUTxIN",
            description = "Layer shape(s) instead of --size, e.g. --shape 14336x4096 --shape 4096x14336.")
    List<String> shapes;

    @Option(names = "--llama8b",
            description = "Time GPTQ + WUSH (MXFP4) on the four layer shapes of Llama-3.1-8B and print the"
                    + " estimated wall time to quantize all 32 decoder blocks.")
    boolean llama8b;

    @Option(names = "--calib-tokens", defaultValue = "262144", paramLabel = "N",
            description = "Calibration tokens assumed by the --llama8b estimate (default 128 windows × 2048 = 262144).")
    long calibTokens;

    @Option(names = "--tokens", defaultValue = "4096", paramLabel = "T", description = "Calibration tokens (default 4096).")
    int tokens;

    @Option(names = "--repeat", defaultValue = "3", paramLabel = "R",
            description = "Repetitions of the fast operations; the median is reported (default 3).")
    int repeat;

    @Option(names = "--skip-gptq", description = "Leave out GPTQ (the slowest row).")
    boolean skipGptq;

    record Row(String operation, double seconds) {}

    @Override
    public Integer call() {
        if (llama8b) {
            return llama8bEstimate();
        }
        List<int[]> layerShapes = shapes == null ? List.of(new int[] {size, size}) : shapes.stream().map(BenchQuantCommand::parseShape).toList();
        for (int[] shape : layerShapes) {
            printTable(benchLayer(shape[0], shape[1], true, !skipGptq));
        }
        return 0;
    }

    static int[] parseShape(String text) {
        String[] parts = text.toLowerCase(Locale.ROOT).split("x");
        try {
            if (parts.length == 2) {
                int out = Integer.parseInt(parts[0].trim());
                int in = Integer.parseInt(parts[1].trim());
                if (out > 0 && in > 0) {
                    return new int[] {out, in};
                }
            }
        } catch (NumberFormatException e) {
            // fall through to the error below
        }
        throw new IllegalArgumentException("--shape: expected OUTxIN with positive integers (e.g. 14336x4096), got '" + text + "'");
    }

    /** Times one random (out × in) layer; the first row is the fp32 matMul baseline. */
    private List<Row> benchLayer(int out, int in, boolean rtnRows, boolean gptqRow) {
        Random random = new Random(0);
        float[] w = new float[out * in];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (random.nextGaussian() / Math.sqrt(in));
        }
        float[] x = new float[tokens * in];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (random.nextGaussian() * (i % in % 64 == 3 ? 8 : 1)); // a few outlier features
        }
        List<Row> rows = new ArrayList<>();
        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            NDArray xs = manager.create(x, new Shape(tokens, in));
            NDArray ws = manager.create(w, new Shape(out, in));
            double base = median(() -> {
                long t = System.nanoTime();
                xs.matMul(ws.transpose()).toFloatArray();
                return (System.nanoTime() - t) / 1e9;
            });
            rows.add(new Row(String.format(Locale.ROOT, "baseline: DJL fp32 matMul (%d × %d)·(%d × %d)ᵀ", tokens, in, out, in), base));
            rows.add(new Row(String.format(Locale.ROOT, "Hessian XᵀX/n, float32 on the engine, %d tokens", tokens), median(() -> {
                long t = System.nanoTime();
                try (HessianAccumulator acc = new HessianAccumulator(manager, in)) {
                    acc.add(xs);
                    try (NDArray h = acc.mean(manager)) {
                        h.getFloat(0, 0); // the product is done
                    }
                }
                return (System.nanoTime() - t) / 1e9;
            })));
            if (rtnRows) {
                for (QuantFormat f : List.of(Mxfp4.DEFAULT, Nvfp4.FIXED)) {
                    LayerInput layer = blockDiagonal(manager, xs, w, out, in, f.groupSize());
                    int blocks = in / f.groupSize();
                    rows.add(new Row(String.format(Locale.ROOT, "WUSH transforms, all %d blocks of d=%d (%s)", blocks, f.groupSize(),
                            f.name()), median(() -> time(() -> Rtn.transforms(layer, f.groupSize(), TransformKind.WUSH, 0)))));
                    rows.add(new Row(String.format(Locale.ROOT, "RTN %s + WUSH, %d × %d", f.name(), out, in),
                            median(() -> time(() -> Rtn.quantize(layer, f, TransformKind.WUSH, 0)))));
                }
            }
            if (gptqRow) {
                int d = Mxfp4.DEFAULT.groupSize();
                try (HessianAccumulator acc = new HessianAccumulator(manager, in); NDManager step = manager.newSubManager()) {
                    acc.add(xs);
                    LayerInput layer = new LayerInput("bench", w, out, in, acc.diagonalBlocks(d), d, acc.mean(step));
                    rows.add(new Row(String.format(Locale.ROOT, "  of which: Cholesky factor of the damped inverse, %d × %d", in, in),
                            time(() -> {
                                try (NDManager m = step.newSubManager()) {
                                    return Gptq.inverseHessianCholesky(layer, in, m).getFloat(0, 0);
                                }
                            })));
                    rows.add(new Row(String.format(Locale.ROOT, "GPTQ MXFP4 + WUSH, %d × %d (once)", out, in),
                            time(() -> Gptq.quantize(layer, Mxfp4.DEFAULT, TransformKind.WUSH, 0))));
                }
            }
        }
        return rows;
    }

    /** The layer with the diagonal blocks of its Hessian only (all RTN reads). */
    private static LayerInput blockDiagonal(NDManager manager, NDArray xs, float[] w, int out, int in, int d) {
        try (HessianAccumulator acc = new HessianAccumulator(manager, in, d)) {
            acc.add(xs);
            return new LayerInput("bench", w, out, in, acc.hessian(), d);
        }
    }

    private static void printTable(List<Row> rows) {
        System.out.printf(Locale.ROOT, "%-66s %10s %12s%n", "operation", "seconds", "× baseline");
        for (Row r : rows) {
            System.out.printf(Locale.ROOT, "%-66s %10.3f %12.2f%n", r.operation(), r.seconds(), r.seconds() / rows.getFirst().seconds());
        }
        System.out.printf(Locale.ROOT, "%s%n%n", machine());
    }

    static String machine() {
        String cpu = "unknown CPU";
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    cpu = line.substring(line.indexOf(':') + 1).trim();
                    break;
                }
            }
        } catch (java.io.IOException e) {
            // not Linux: the name stays unknown
        }
        return String.format(Locale.ROOT, "%s, %d cores, %s %s", cpu, Runtime.getRuntime().availableProcessors(),
                System.getProperty("java.vm.name"), System.getProperty("java.version"));
    }

    /** Seconds of one engine float32 GEMM (n × n)·(n × n), median of the repeats: the rate every floor is measured at. */
    private double gemmSeconds(int n) {
        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            NDArray a = manager.randomNormal(new Shape(n, n));
            NDArray b = manager.randomNormal(new Shape(n, n));
            return median(() -> {
                long t = System.nanoTime();
                try (NDArray c = a.matMul(b)) {
                    c.getFloat(0, 0);
                }
                return (System.nanoTime() - t) / 1e9;
            });
        }
    }

    /**
     * Llama-3.1-8B, one decoder block, each step against its arithmetic floor: the time of engine
     * float32 GEMMs of the same multiply-adds at the rate measured here. Per block the pipeline
     * accumulates four Hessians over the calibration tokens (q/k/v share one, gate/up another), runs
     * GPTQ on the seven linears, and runs the block forward twice (unquantized for the Hessians,
     * quantized for the next block's inputs). The forward passes are counted at the floor (their
     * linears' products); the Hessians are timed over --tokens and scaled; GPTQ is timed once per shape.
     */
    private int llama8bEstimate() {
        record Kind(String name, int out, int in, int count, int hessians) {}
        List<Kind> kinds = List.of(new Kind("q_proj, o_proj", 4096, 4096, 2, 2), new Kind("k_proj, v_proj", 1024, 4096, 2, 0),
                new Kind("gate_proj, up_proj", 14336, 4096, 2, 1), new Kind("down_proj", 4096, 14336, 1, 1));
        int n = 4096;
        double gemm = gemmSeconds(n);
        double rate = 2.0 * n * n * n / gemm; // flop/s
        System.out.printf(Locale.ROOT, "floor rate: engine float32 GEMM %d³ in %.3f s = %.1f GFLOP/s%n%n", n, gemm, rate / 1e9);
        List<String[]> table = new ArrayList<>();
        double hessians = 0;
        double hessiansFloor = 0;
        double gptqs = 0;
        double gptqsFloor = 0;
        double forwardFloor = 0;
        double downGptq = 0;
        for (Kind k : kinds) {
            List<Row> rows = benchLayer(k.out(), k.in(), false, true);
            printTable(rows);
            double hessian = rows.get(1).seconds() / tokens * calibTokens;
            double hessianFloor = 2.0 * calibTokens * k.in() * k.in() / rate;
            double gptq = rows.get(3).seconds();
            double p = k.in();
            double gptqFloor = (2.0 / 3 * p * p * p + 2.0 * k.out() * p * p / 2) / rate; // Cholesky + triangular inverse, lazy updates
            if (k.hessians() > 0) {
                table.add(new String[] {String.format(Locale.ROOT, "Hessian XᵀX, width %d, %d tokens ×%d", k.in(), calibTokens, k.hessians()),
                    sec(k.hessians() * hessian), sec(k.hessians() * hessianFloor), ratio(hessian, hessianFloor)});
            }
            table.add(new String[] {String.format(Locale.ROOT, "GPTQ + WUSH %s %d × %d ×%d", k.name(), k.out(), k.in(), k.count()),
                sec(k.count() * gptq), sec(k.count() * gptqFloor), ratio(gptq, gptqFloor)});
            hessians += k.hessians() * hessian;
            hessiansFloor += k.hessians() * hessianFloor;
            gptqs += k.count() * gptq;
            gptqsFloor += k.count() * gptqFloor;
            forwardFloor += k.count() * 2 * (2.0 * calibTokens * k.out() * k.in()) / rate;
            if (k.name().equals("down_proj")) {
                downGptq = gptq;
            }
        }
        double block = forwardFloor + hessians + gptqs;
        double floor = forwardFloor + hessiansFloor;
        table.add(new String[] {"forward passes ×2 (counted at the floor)", sec(forwardFloor), sec(forwardFloor), "1.00"});
        table.add(new String[] {"one decoder block", sec(block), sec(floor + gptqsFloor), ratio(block, floor + gptqsFloor)});
        System.out.printf(Locale.ROOT, "Llama-3.1-8B, GPTQ MXFP4 + WUSH, %d calibration tokens, one decoder block (%s):%n%n", calibTokens, machine());
        System.out.println("| step | seconds | floor s | × floor |");
        System.out.println("|---|---:|---:|---:|");
        for (String[] r : table) {
            System.out.printf(Locale.ROOT, "| %s | %s | %s | %s |%n", r[0], r[1], r[2], r[3]);
        }
        System.out.println();
        System.out.printf(Locale.ROOT, "32 decoder blocks: %.2f h; floor (forward passes + Hessians): %.2f h; ratio %.2f%n",
                32 * block / 3600, 32 * floor / 3600, block / floor);
        System.out.printf(Locale.ROOT, "one block's GPTQ (all seven linears) / its Hessian accumulation: %.2f%n", gptqs / hessians);
        System.out.printf(Locale.ROOT, "down_proj GPTQ: %.1f s (float64 EJML before: %.1f s, %.1f× faster)%n", downGptq, OLD_DOWN_PROJ_GPTQ,
                OLD_DOWN_PROJ_GPTQ / downGptq);
        System.out.println("(attention score products are left out: at 2048-token windows they add ~10% to the forward passes)");
        return 0;
    }

    /** down_proj GPTQ with float64 EJML factorisations, measured 2026-11-23 on this project's 2-core AMD EPYC machine. */
    static final double OLD_DOWN_PROJ_GPTQ = 1654.9;

    private static String sec(double s) {
        return String.format(Locale.ROOT, "%.1f", s);
    }

    private static String ratio(double s, double floor) {
        return String.format(Locale.ROOT, "%.2f", s / floor);
    }

    private static double time(Supplier<?> work) {
        long t = System.nanoTime();
        work.get();
        return (System.nanoTime() - t) / 1e9;
    }

    private double median(Supplier<Double> run) {
        run.get(); // warm-up
        double[] s = new double[Math.max(1, repeat)];
        for (int i = 0; i < s.length; i++) {
            s[i] = run.get();
        }
        java.util.Arrays.sort(s);
        return s[s.length / 2];
    }
}
