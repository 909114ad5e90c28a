package dev.wush.cli;

import ai.djl.ndarray.NDManager;
import ai.djl.repository.zoo.ZooModel;
import dev.wush.translators.GenerationConfig;
import dev.wush.translators.TextGenerator;
import dev.wush.translators.TextTokenizer;
import dev.wush.zoo.LlamaModelLoader;
import dev.wush.zoo.llama.LlamaForCausalLM;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code wush generate}: continue a prompt, greedy or sampled, streaming the text. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Continue a prompt (BOS + prompt) with a key/value cache; stops at EOS, --max-tokens or the context.")
final class GenerateCommand implements Callable<Integer> {

    @Mixin
    ModelOptions model;

    @Option(names = "--prompt", required = true, paramLabel = "TEXT", description = "Text to continue.")
    String prompt;

    @Option(names = "--max-tokens", defaultValue = "128", paramLabel = "N", description = "Most tokens to generate (default 128).")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "0", paramLabel = "T",
            description = "0 (default) for greedy decoding; otherwise sample from softmax(logits / T).")
    double temperature;

    @Option(names = "--top-p", defaultValue = "1", paramLabel = "P",
            description = "Nucleus sampling: keep the most likely tokens whose probabilities sum to P (default 1).")
    double topP;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "Sampler seed (default 0).")
    long seed;

    @Override
    public Integer call() throws Exception {
        GenerationConfig config;
        try {
            config = new GenerationConfig(maxTokens, temperature, topP, seed);
        } catch (IllegalArgumentException e) {
            throw OptionNames.named(e, Map.of("maxNewTokens", "--max-tokens", "temperature", "--temperature", "topP", "--top-p"));
        }
        model.check();
        Path dir = model.resolve();
        int context = ModelOptions.config(dir).maxPositionEmbeddings();
        try (ZooModel<String, String> zoo = model.load(dir, String.class, String.class);
                TextTokenizer tokenizer = LlamaModelLoader.tokenizer(zoo);
                NDManager manager = zoo.getNDManager().newSubManager()) {
            LlamaForCausalLM lm = (LlamaForCausalLM) zoo.getBlock();
            MemoryMarks.mark("loaded", null);
            TextGenerator generator = new TextGenerator(lm, config, tokenizer.eosIds(), lm.config().maxPositionEmbeddings());
            long[] ids = tokenizer.encodeWithBos(prompt);
            generator.checkPrompt(ids); // before anything is printed
            long[] generated = new long[Math.min(maxTokens, context)]; // the context bounds what can be generated
            int[] count = {0};
            int[] printed = {0};
            System.out.print(prompt);
            long start = System.nanoTime();
            generator.generate(manager, ids, id -> {
                generated[count[0]++] = id;
                // decode the whole continuation and print what is new, so multi-byte characters come out whole
                String text = tokenizer.decodeContinuation(ids, Arrays.copyOf(generated, count[0]));
                if (text.length() > printed[0] && !text.endsWith("\uFFFD")) {
                    System.out.print(text.substring(printed[0]));
                    printed[0] = text.length();
                    System.out.flush();
                }
            });
            double seconds = (System.nanoTime() - start) / 1e9;
            System.out.println();
            System.err.printf(Locale.ROOT, "%d prompt tokens, %d generated in %.2f s (%.1f tokens/s)%n",
                    ids.length, count[0], seconds, count[0] / seconds);
            MemoryMarks.mark("generated", String.format(Locale.ROOT, "prompt=%d tokens=%d seconds=%.3f", ids.length, count[0], seconds));
        }
        return 0;
    }

}
