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
 * {@code wush bench-quant}: how long the quantization core takes on one Llama-3.1-8B-sized layer,
 * next to a DJL fp32 matrix product of the same layer measured in the same run.
 */
@Command(name = "bench-quant", mixinStandardHelpOptions = true,
        description = "Time WUSH transforms, RTN and GPTQ on a random (size × size) layer and print a table with"
                + " ratios to one DJL fp32 matMul of that layer over --tokens tokens, measured in the same run.")
final class BenchQuantCommand implements Callable<Integer> {

    @Option(names = "--size", defaultValue = "4096", paramLabel = "N", description = "Layer is N×N (default 4096).")
    int size;

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
        Random random = new Random(0);
        float[] w = new float[size * size];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (random.nextGaussian() / Math.sqrt(size));
        }
        float[] x = new float[tokens * size];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (random.nextGaussian() * (i % size % 64 == 3 ? 8 : 1)); // a few outlier features
        }
        List<Row> rows = new ArrayList<>();
        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            NDArray xs = manager.create(x, new Shape(tokens, size));
            NDArray ws = manager.create(w, new Shape(size, size));
            double base = median(() -> {
                long t = System.nanoTime();
                xs.matMul(ws.transpose()).toFloatArray();
                return (System.nanoTime() - t) / 1e9;
            });
            rows.add(new Row(String.format(Locale.ROOT, "baseline: DJL fp32 matMul (%d × %d)·(%d × %d)ᵀ", tokens, size, size, size), base));
            double[][] hessian = new double[1][];
            rows.add(new Row(String.format(Locale.ROOT, "Hessian XᵀX/n, float64, %d tokens", tokens), median(() -> {
                long t = System.nanoTime();
                try (HessianAccumulator acc = new HessianAccumulator(manager, size)) {
                    acc.add(xs);
                    hessian[0] = acc.hessian();
                }
                return (System.nanoTime() - t) / 1e9;
            })));
            LayerInput layer = new LayerInput("bench", w, size, size, hessian[0]);
            for (QuantFormat f : List.of(Mxfp4.DEFAULT, Nvfp4.FIXED)) {
                int blocks = size / f.groupSize();
                rows.add(new Row(String.format(Locale.ROOT, "WUSH transforms, all %d blocks of d=%d (%s)", blocks, f.groupSize(),
                        f.name()), median(() -> time(() -> Rtn.transforms(layer, f.groupSize(), TransformKind.WUSH, 0)))));
                rows.add(new Row(String.format(Locale.ROOT, "RTN %s + WUSH, %d × %d", f.name(), size, size),
                        median(() -> time(() -> Rtn.quantize(layer, f, TransformKind.WUSH, 0)))));
            }
            if (!skipGptq) {
                rows.add(new Row(String.format(Locale.ROOT, "GPTQ MXFP4 + WUSH, %d × %d (once)", size, size),
                        time(() -> Gptq.quantize(layer, Mxfp4.DEFAULT, TransformKind.WUSH, 0))));
            }
        }
        System.out.printf(Locale.ROOT, "%-62s %10s %12s%n", "operation", "seconds", "× baseline");
        for (Row r : rows) {
            System.out.printf(Locale.ROOT, "%-62s %10.3f %12.2f%n", r.operation(), r.seconds(), r.seconds() / rows.getFirst().seconds());
        }
        System.out.printf(Locale.ROOT, "%d cores, %s%n", Runtime.getRuntime().availableProcessors(), System.getProperty("java.vm.name")
                + " " + System.getProperty("java.version"));
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
