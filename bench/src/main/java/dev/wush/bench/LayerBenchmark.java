package dev.wush.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.wush.kernel.Fp4Kernels;
import dev.wush.kernel.PackedLayer;
import dev.wush.quant.format.Mxfp4;
import dev.wush.quant.transform.TransformKind;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * One linear layer of a Llama-3.1-8B shape, {@code y = x · Wᵀ} for a batch of tokens:
 * {@code fp32} is DJL's {@code matMul} with a float32 weight (the baseline); {@code w4a4} is
 * {@link PackedLayer#forward} with MXFP4 weights and activations and a WUSH-sized transform per block
 * (transform, quantize and packed product all included); {@code w4a16} the same without activation
 * quantization; {@code w4a4-java} the W4A4 path on the Java fallback.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class LayerBenchmark {

    /** OUTxIN: q/o_proj, gate/up_proj, down_proj. */
    @Param({"4096x4096", "14336x4096", "4096x14336"})
    public String shape;

    @Param({"1", "16", "128"})
    public int batch;

    @Param({"fp32", "w4a4", "w4a16"})
    public String impl;

    private NDManager manager;
    private NDArray x;
    private NDArray weightT;
    private PackedLayer packed;
    private float[] input;

    @Setup(Level.Trial)
    public void setUp() {
        int out = Integer.parseInt(shape.split("x")[0]);
        int in = Integer.parseInt(shape.split("x")[1]);
        Random random = new Random(1);
        input = new float[batch * in];
        for (int i = 0; i < input.length; i++) {
            input[i] = (float) random.nextGaussian();
        }
        if (impl.equals("fp32")) {
            manager = NDManager.newBaseManager("PyTorch");
            x = manager.create(input, new Shape(batch, in));
            weightT = manager.randomNormal(new Shape(out, in)).transpose().duplicate(); // (in, out), contiguous
        } else {
            Fp4Kernels kernels = impl.endsWith("-java") ? Fp4Kernels.java() : Fp4Kernels.get();
            packed = new PackedLayer(RandomLayers.layer(out, in, Mxfp4.DEFAULT, TransformKind.WUSH, 2), !impl.startsWith("w4a16"), kernels);
        }
    }

    @Benchmark
    public Object forward() {
        if (packed != null) {
            return packed.forward(input, batch);
        }
        try (NDArray y = x.matMul(weightT)) {
            return y.getShape();
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (manager != null) {
            manager.close();
        }
    }
}
