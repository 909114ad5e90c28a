package dev.wush.cli;

import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.ZooModel;
import com.google.gson.JsonObject;
import dev.wush.io.TextFiles;
import dev.wush.translators.Perplexity;
import dev.wush.translators.PerplexityEvaluator;
import dev.wush.translators.TextTokenizer;
import dev.wush.translators.TokenWindows;
import dev.wush.translators.WindowLosses;
import dev.wush.zoo.LlamaModelLoader;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code wush eval}: perplexity of a text under the evaluation protocol of METHOD.md. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Perplexity of a text file: BOS once at the start, consecutive non-overlapping windows,"
                + " exp(mean next-token cross-entropy) over positions 1..L-1 of every window.")
final class EvalCommand implements Callable<Integer> {

    @Mixin
    ModelOptions model;

    @Option(names = "--data", required = true, paramLabel = "FILE", description = "UTF-8 text to score.")
    Path data;

    @Option(names = "--window", defaultValue = "256", paramLabel = "L", description = "Window length in tokens (default 256).")
    int window;

    @Option(names = "--batch", defaultValue = "4", paramLabel = "N", description = "Windows per forward pass (default 4, fastest on 2 cores).")
    int batch;

    @Option(names = "--json", description = "End with one JSON line: {\"ppl\": …, \"tokens\": …, \"seconds\": …}.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        PerplexityEvaluator evaluator;
        try {
            evaluator = new PerplexityEvaluator(window, batch);
        } catch (IllegalArgumentException e) {
            throw OptionNames.named(e, Map.of("window", "--window", "batch", "--batch"));
        }
        model.check();
        String text = TextFiles.read(data, "--data");
        Path dir = model.resolve();
        ModelOptions.config(dir).requireWindow("--window", window, dir);
        try (ZooModel<TokenWindows, WindowLosses> zoo = model.load(dir, TokenWindows.class, WindowLosses.class);
                TextTokenizer tokenizer = LlamaModelLoader.tokenizer(zoo);
                Predictor<TokenWindows, WindowLosses> predictor = zoo.newPredictor()) {
            long[] tokens = tokenizer.encodeWithBos(text);
            int windows = evaluator.windowCount(tokens);
            Perplexity result;
            try (ProgressBar bar = Progress.bar("eval", windows, "windows")) {
                result = evaluator.evaluate(predictor, tokens, bar::stepTo);
            }
            System.out.printf(Locale.ROOT, "%s on %s: perplexity %.4f over %d predicted tokens (%d windows of %d),"
                            + " %.1f s, %.0f tokens/s%n",
                    dir.getFileName(), data.getFileName(), result.ppl(), result.tokens(), result.windows(), window,
                    result.seconds(), result.tokensPerSecond(window));
            if (json) {
                JsonObject o = new JsonObject();
                o.addProperty("ppl", result.ppl());
                o.addProperty("tokens", result.tokens());
                o.addProperty("seconds", result.seconds());
                System.out.println(o);
            }
        }
        return 0;
    }
}
