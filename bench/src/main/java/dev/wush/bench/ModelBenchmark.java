package dev.wush.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.ParameterStore;
import dev.wush.kernel.KernelThreads;
import dev.wush.translators.GenerationConfig;
import dev.wush.translators.TextGenerator;
import dev.wush.zoo.WushModelZoo;
import dev.wush.zoo.llama.LlamaForCausalLM;
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
 * A whole checkpoint as users run it, loaded through DJL's {@code Criteria} and the WUSH zoo (quantized or
 * not): {@link #decode} generates {@value #NEW_TOKENS} tokens greedily after an {@value #PROMPT}-token prompt
 * with the KV cache, {@link #prefill} runs one forward pass over {@value #PREFILL} tokens. The thread budget
 * ({@link KernelThreads}) is a parameter, so that every row of a table runs at the same count.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class ModelBenchmark {

    static final int PROMPT = 8;
    static final int NEW_TOKENS = 32;
    static final int PREFILL = 256;

    /** A checkpoint directory. */
    @Param("")
    public String model;

    @Param("1")
    public int threads;

    private ZooModel<String, String> zoo;
    private LlamaForCausalLM lm;
    private TextGenerator generator;
    private NDManager manager;
    private long[] prompt;
    private long[] prefillIds;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        KernelThreads.set(threads);
        zoo = Criteria.builder().setTypes(String.class, String.class).optGroupId(WushModelZoo.GROUP_ID)
                .optArtifactId(WushModelZoo.ANY_LLAMA).optArgument("model", model).optArgument("threads", threads).build().loadModel();
        lm = (LlamaForCausalLM) zoo.getBlock();
        manager = zoo.getNDManager().newSubManager();
        int vocab = lm.config().vocabSize();
        prefillIds = new long[PREFILL];
        for (int i = 0; i < PREFILL; i++) {
            prefillIds[i] = (i * 7919L + 13) % vocab; // any ids: the weights are what is measured
        }
        prompt = java.util.Arrays.copyOf(prefillIds, PROMPT);
        generator = new TextGenerator(lm, GenerationConfig.greedy(NEW_TOKENS), Set.of(), lm.config().maxPositionEmbeddings());
    }

    @Benchmark
    public long[] decode() {
        long[] out = generator.generate(manager, prompt, t -> {});
        if (out.length != NEW_TOKENS) {
            throw new IllegalStateException("generated " + out.length + " tokens, expected " + NEW_TOKENS);
        }
        return out;
    }

    @Benchmark
    public float prefill() {
        try (NDManager step = manager.newSubManager()) {
            NDArray ids = step.create(new long[][] {prefillIds});
            NDList out = lm.forward(new ParameterStore(step, false), new NDList(ids), false);
            return out.head().getFloat(0, PREFILL - 1, 0);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        manager.close();
        zoo.close();
    }
}
