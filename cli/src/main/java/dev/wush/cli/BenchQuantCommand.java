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
            double[][] hessian = new double[1][];
            rows.add(new Row(String.format(Locale.ROOT, "Hessian XᵀX/n, float64, %d tokens × %d", tokens, in), median(() -> {
                long t = System.nanoTime();
                try (HessianAccumulator acc = new HessianAccumulator(manager, in)) {
                    acc.add(xs);
                    hessian[0] = acc.hessian();
                }
                return (System.nanoTime() - t) / 1e9;
            })));
            LayerInput layer = new LayerInput("bench", w, out, in, hessian[0]);
            if (rtnRows) {
                for (QuantFormat f : List.of(Mxfp4.DEFAULT, Nvfp4.FIXED)) {
                    int blocks = in / f.groupSize();
                    rows.add(new Row(String.format(Locale.ROOT, "WUSH transforms, all %d blocks of d=%d (%s)", blocks, f.groupSize(),
                            f.name()), median(() -> time(() -> Rtn.transforms(layer, f.groupSize(), TransformKind.WUSH, 0)))));
                    rows.add(new Row(String.format(Locale.ROOT, "RTN %s + WUSH, %d × %d", f.name(), out, in),
                            median(() -> time(() -> Rtn.quantize(layer, f, TransformKind.WUSH, 0)))));
                }
            }
            if (gptqRow) {
                rows.add(new Row(String.format(Locale.ROOT, "GPTQ MXFP4 + WUSH, %d × %d (once)", out, in),
                        time(() -> Gptq.quantize(layer, Mxfp4.DEFAULT, TransformKind.WUSH, 0))));
            }
        }
        return rows;
    }

    private static void printTable(List<Row> rows) {
        System.out.printf(Locale.ROOT, "%-62s %10s %12s%n", "operation", "seconds", "× baseline");
        for (Row r : rows) {
            System.out.printf(Locale.ROOT, "%-62s %10.3f %12.2f%n", r.operation(), r.seconds(), r.seconds() / rows.getFirst().seconds());
        }
        System.out.printf(Locale.ROOT, "%d cores, %s%n%n", Runtime.getRuntime().availableProcessors(), System.getProperty("java.vm.name")
                + " " + System.getProperty("java.version"));
    }

    /**
     * Llama-3.1-8B: per decoder block q,o are 4096×4096, k,v 1024×4096, gate,up 14336×4096, down 4096×14336;
     * four distinct inputs get a Hessian (q/k/v share one, gate/up another). Per block the pipeline runs GPTQ
     * on the seven linears, accumulates the four Hessians over the calibration tokens, and runs the block
     * forward twice over them (unquantized for Hessians, quantized for the next block's inputs), which is
     * estimated from the fp32 matMul rate measured here.
     */
    private int llama8bEstimate() {
        record Kind(String name, int out, int in, int count, int hessians) {}
        List<Kind> kinds = List.of(new Kind("q_proj, o_proj", 4096, 4096, 2, 2), new Kind("k_proj, v_proj", 1024, 4096, 2, 0),
                new Kind("gate_proj, up_proj", 14336, 4096, 2, 1), new Kind("down_proj", 4096, 14336, 1, 1));
        double perBlock = 0;
        List<Row> summary = new ArrayList<>();
        for (Kind k : kinds) {
            List<Row> rows = benchLayer(k.out(), k.in(), false, true);
            printTable(rows);
            double matmulPerToken = rows.get(0).seconds() / tokens;
            double hessianPerToken = rows.get(1).seconds() / tokens;
            double gptq = rows.get(2).seconds();
            double layerSeconds = k.count() * (gptq + 2 * matmulPerToken * calibTokens) + k.hessians() * hessianPerToken * calibTokens;
            summary.add(new Row(String.format(Locale.ROOT, "%-18s %5d × %-5d ×%d: GPTQ %.1f s each", k.name(), k.out(), k.in(), k.count(), gptq),
                    layerSeconds));
            perBlock += layerSeconds;
        }
        System.out.printf(Locale.ROOT, "Llama-3.1-8B estimate, GPTQ MXFP4 + WUSH, %d calibration tokens, per decoder block:%n", calibTokens);
        for (Row r : summary) {
            System.out.printf(Locale.ROOT, "  %-60s %10.1f s%n", r.operation(), r.seconds());
        }
        System.out.printf(Locale.ROOT, "  %-60s %10.1f s%n", "one decoder block (GPTQ + Hessians + 2 forward passes)", perBlock);
        System.out.printf(Locale.ROOT, "  %-60s %10.2f h%n", "32 decoder blocks", 32 * perBlock / 3600);
        System.out.println("  (attention score products are left out: at 2048-token windows they add ~10% to the forward passes)");
        return 0;
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
