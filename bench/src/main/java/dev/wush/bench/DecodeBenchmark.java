package dev.wush.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import dev.wush.kernel.KernelThreads;
import dev.wush.nn.BlockPaths;
import dev.wush.quant.block.WushLinear;
import dev.wush.quant.format.Mxfp4;
import dev.wush.quant.layer.QuantizedLayer;
import dev.wush.quant.transform.TransformKind;
import dev.wush.translators.GenerationConfig;
import dev.wush.translators.TextGenerator;
import dev.wush.zoo.llama.LlamaConfig;
import dev.wush.zoo.llama.LlamaForCausalLM;
import dev.wush.zoo.llama.LlamaLoader;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
 * End-to-end greedy decoding with a KV cache on a randomly initialised model of Llama-3.2-1B's shapes
 * (16 layers, hidden 2048, MLP 8192, 32 query / 8 KV heads, vocabulary 128256, tied embeddings):
 * {@code fp32} as loaded; {@code w4a4-hadamard} and {@code w4a4-wush} with all 112 decoder linears replaced by
 * {@link WushLinear} (MXFP4 weights and activations, RTN), the first with the Hadamard transform (one 32×32 matrix
 * that every block shares), the second with a different dense 32×32 matrix per block (4 KB per block, read again
 * for every token), which is what the product's default WUSH layers cost at inference (the matrices are random
 * here: the speed does not depend on their values).
 * Embeddings and the LM head stay fp32 in all three, as METHOD.md prescribes. One operation = an 8-token prompt
 * plus {@value #NEW_TOKENS} generated tokens.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class DecodeBenchmark {

    static final int NEW_TOKENS = 32;

    static final LlamaConfig LLAMA_32_1B = new LlamaConfig(2048, 8192, 16, 32, 8, 64, 1e-5, 500000, null, true, false, false,
            128256, 131072, DataType.FLOAT32, 128000, List.of(128001));

    @Param({"fp32", "w4a4-hadamard", "w4a4-wush"})
    public String impl;

    private NDManager manager;
    private TextGenerator generator;
    private final long[] prompt = {128000, 791, 4062, 14198, 39935, 35308, 927, 279};

    @Setup(Level.Trial)
    public void setUp() {
        KernelThreads.threads(); // the thread budget (and passive OpenMP threads) before the engine loads
        manager = NDManager.newBaseManager("PyTorch");
        LlamaForCausalLM lm = new LlamaForCausalLM(LLAMA_32_1B);
        NDArray embedding = null;
        for (Map.Entry<String, Shape> e : lm.parameterShapes().entrySet()) {
            String name = e.getKey();
            NDArray array;
            if (name.equals("lm_head.weight")) {
                array = embedding;
            } else if (name.endsWith("norm.weight")) {
                array = manager.ones(e.getValue());
            } else {
                array = manager.randomNormal(0, 0.02f, e.getValue(), DataType.FLOAT32);
            }
            if (name.equals("model.embed_tokens.weight")) {
                embedding = array;
            }
            LlamaLoader.parameter(lm, name).setArray(array);
        }
        if (!impl.equals("fp32")) {
            TransformKind kind = switch (impl) {
                case "w4a4-hadamard" -> TransformKind.HADAMARD;
                case "w4a4-wush" -> TransformKind.WUSH;
                default -> throw new IllegalArgumentException("impl " + impl + ": expected fp32, w4a4-hadamard or w4a4-wush");
            };
            for (Map.Entry<String, Linear> e : BlockPaths.linears(lm).entrySet()) {
                String path = e.getKey();
                if (path.equals("lm_head")) {
                    continue;
                }
                Parameter weight = e.getValue().getParameters().get("weight");
                NDArray w = weight.getArray();
                int out = Math.toIntExact(w.getShape().get(0));
                int in = Math.toIntExact(w.getShape().get(1));
                QuantizedLayer q = RandomLayers.quantize(path, w.toFloatArray(), out, in, Mxfp4.DEFAULT, kind);
                BlockPaths.replace(lm, path, new WushLinear(manager, q, true, null));
                w.close(); // the fp32 weight is gone: only the packed layer stays
            }
        }
        generator = new TextGenerator(lm, GenerationConfig.greedy(NEW_TOKENS), Set.of(), 4096);
    }

    @Benchmark
    public long[] generate() {
        long[] out = generator.generate(manager, prompt, t -> {});
        if (out.length != NEW_TOKENS) {
            throw new IllegalStateException("generated " + out.length + " tokens, expected " + NEW_TOKENS);
        }
        return out;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        manager.close();
    }
}
