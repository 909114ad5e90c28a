package dev.wush.cli;

import ai.djl.MalformedModelException;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ZooModel;
import dev.wush.translators.TextTokenizer;
import dev.wush.kernel.KernelThreads;
import dev.wush.zoo.ModelResolver;
import dev.wush.zoo.WushModelZoo;
import dev.wush.zoo.hub.ConsoleDownloadProgress;
import dev.wush.zoo.llama.LlamaConfig;
import java.util.Map;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Option;

/** {@code --model}, {@code --dtype} and {@code --threads}, shared by the commands that load a model. */
final class ModelOptions {

    static final List<String> DTYPES = List.of("float32", "float16", "auto");

    @Option(names = "--model", required = true, paramLabel = "DIR|hf:ID|NAME",
            description = "A Hugging Face model directory, hf:owner/name[@revision], or a zoo name (stories260K,"
                    + " babyllama105, smollm2-135m, llama-3.2-1b-instruct, llama-3.2-3b-instruct, llama-3.1-8b-instruct).")
    String model;

    @Option(names = "--dtype", defaultValue = "float32", paramLabel = "TYPE",
            description = "Type the weights are held and computed in: float32 (default; bf16 checkpoints widen"
                    + " exactly), float16 (half the memory), or auto (float32 for fp32 checkpoints, else float16).")
    String dtype;

    @Option(names = "--threads", paramLabel = "N",
            description = "Threads for the engine and the packed kernels together (default: the physical cores, or"
                    + " WUSH_THREADS).")
    Integer threads;

    /** Checks what can be checked without the model, and sets the thread budget. */
    void check() {
        if (!DTYPES.contains(dtype)) {
            throw new IllegalArgumentException("--dtype " + dtype + ": use float32, float16 or auto"
                    + (dtype.equals("bfloat16") ? " (bf16 checkpoints load exactly as float32)" : ""));
        }
        if (threads != null) {
            if (threads < 1) {
                throw new IllegalArgumentException("--threads must be at least 1, got " + threads);
            }
            KernelThreads.set(threads);
        } else {
            KernelThreads.threads(); // the default budget, applied to the engine before it runs anything
        }
    }

    /** The local checkpoint directory (downloading it first if needed, with progress on stderr). */
    Path resolve() throws IOException {
        check();
        try {
            return ModelResolver.fromEnvironment(new ConsoleDownloadProgress()).resolve(model);
        } catch (IllegalArgumentException e) {
            throw OptionNames.named(e, Map.of("model", "--model"));
        }
    }

    /** The model's validated config.json, read before any weight is; the tokenizer files are checked too. */
    static LlamaConfig config(Path dir) throws IOException {
        LlamaConfig config = LlamaConfig.load(dir);
        TextTokenizer.check(dir);
        return config;
    }

    /** Loads the model through DJL's {@link Criteria} and the WUSH zoo. */
    <I, O> ZooModel<I, O> load(Path dir, Class<I> input, Class<O> output)
            throws IOException, ModelNotFoundException, MalformedModelException {
        Criteria<I, O> criteria = Criteria.builder()
                .setTypes(input, output)
                .optGroupId(WushModelZoo.GROUP_ID)
                .optArtifactId(WushModelZoo.ANY_LLAMA)
                .optArgument("model", dir.toString())
                .optArgument("dtype", dtype)
                .optArgument("threads", KernelThreads.threads())
                .build();
        return criteria.loadModel();
    }
}
