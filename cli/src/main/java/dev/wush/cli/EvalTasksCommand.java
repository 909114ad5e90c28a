package dev.wush.cli;

import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.ZooModel;
import com.google.gson.JsonObject;
import dev.wush.translators.TextTokenizer;
import dev.wush.translators.TokenWindows;
import dev.wush.translators.WindowLosses;
import dev.wush.translators.tasks.ChoiceScores;
import dev.wush.translators.tasks.ContextChoices;
import dev.wush.translators.tasks.ContinuationTranslator;
import dev.wush.translators.tasks.Task;
import dev.wush.translators.tasks.TaskEvaluator;
import dev.wush.translators.tasks.TaskItem;
import dev.wush.translators.tasks.TaskReader;
import dev.wush.translators.tasks.TaskResult;
import dev.wush.zoo.LlamaModelLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code wush eval-tasks}: zero-shot accuracy on the lm-evaluation-harness tasks, from the datasets' JSON lines. */
@Command(name = "eval-tasks", mixinStandardHelpOptions = true,
        description = "Zero-shot accuracy by log-likelihood, as EleutherAI's lm-evaluation-harness scores arc_easy, arc_challenge,"
                + " hellaswag, piqa, winogrande and lambada_openai, from each dataset's JSON-lines export.")
final class EvalTasksCommand implements Callable<Integer> {

    @Mixin
    ModelOptions model;

    @Option(names = "--task", required = true, paramLabel = "NAME=FILE",
            description = "A task and its JSON-lines file, e.g. arc_easy=ARC-Easy-test.jsonl; repeat for more tasks.")
    List<String> tasks;

    @Option(names = "--limit", defaultValue = "0", paramLabel = "N", description = "Score the first N items of each task (default all).")
    int limit;

    @Option(names = "--batch", defaultValue = "8", paramLabel = "B", description = "Continuations per forward pass (default 8).")
    int batch;

    @Option(names = "--bos", description = "Put BOS before every context (the harness's add_bos_token; off by default, as there).")
    boolean bos;

    @Option(names = "--json", description = "End with one JSON line: every task's metrics and the average accuracy.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        if (batch < 1) {
            throw new IllegalArgumentException("--batch must be at least 1, got " + batch);
        }
        Map<Task, List<TaskItem>> items = read(tasks, limit); // every file read and checked before the model loads
        model.check();
        Path dir = model.resolve();
        int context = ModelOptions.config(dir).maxPositionEmbeddings();
        List<TaskResult> results = new ArrayList<>();
        try (ZooModel<TokenWindows, WindowLosses> zoo = model.load(dir, TokenWindows.class, WindowLosses.class);
                TextTokenizer tokenizer = LlamaModelLoader.tokenizer(zoo);
                Predictor<ContextChoices, ChoiceScores> predictor = zoo.newPredictor(new ContinuationTranslator())) {
            TaskEvaluator evaluator = new TaskEvaluator(tokenizer, bos, context, batch);
            for (Map.Entry<Task, List<TaskItem>> e : items.entrySet()) {
                List<ChoiceScores> scores;
                try (ProgressBar bar = Progress.bar(e.getKey().label(), e.getValue().size(), "items")) {
                    scores = evaluator.score(predictor, e.getValue(), bar::stepTo);
                }
                results.add(TaskEvaluator.metrics(e.getKey(), e.getValue(), scores));
            }
        }
        System.out.printf(Locale.ROOT, "%-16s %6s %16s %16s %12s%n", "task", "items", "acc", "acc_norm", "perplexity");
        double sum = 0;
        double sumNorm = 0;
        int withNorm = 0;
        for (TaskResult r : results) {
            if (!Double.isNaN(r.accNorm())) {
                sumNorm += r.accNorm();
                withNorm++;
            }
            System.out.printf(Locale.ROOT, "%-16s %6d %16s %16s %12s%n", r.task().label(), r.items(), pm(r.acc(), r.accStderr()),
                    pm(r.accNorm(), r.accNormStderr()), Double.isNaN(r.perplexity()) ? "" : String.format(Locale.ROOT, "%.3f", r.perplexity()));
            sum += r.acc();
        }
        double average = sum / results.size();
        double averageNorm = withNorm == 0 ? Double.NaN : sumNorm / withNorm;
        System.out.printf(Locale.ROOT, "%s: average acc %.4f over %d task%s%s%n", dir.getFileName(), average, results.size(),
                results.size() == 1 ? "" : "s", withNorm == 0 ? ""
                        : String.format(Locale.ROOT, "; average acc_norm %.4f over the %d that report it", averageNorm, withNorm));
        if (json) {
            JsonObject o = new JsonObject();
            JsonObject per = new JsonObject();
            for (TaskResult r : results) {
                JsonObject t = new JsonObject();
                t.addProperty("items", r.items());
                t.addProperty("acc", r.acc());
                put(t, "acc_stderr", r.accStderr());
                put(t, "acc_norm", r.accNorm());
                put(t, "acc_norm_stderr", r.accNormStderr());
                put(t, "perplexity", r.perplexity());
                put(t, "perplexity_stderr", r.perplexityStderr());
                per.add(r.task().label(), t);
            }
            o.add("tasks", per);
            o.addProperty("average_acc", average);
            put(o, "average_acc_norm", averageNorm);
            System.out.println(o);
        }
        return 0;
    }

    /**
     * The items of each {@code --task NAME=FILE}, at most {@code limit} each (0: all); a bad spec, an unknown task,
     * a task given twice or a malformed file is an error naming the option.
     */
    static Map<Task, List<TaskItem>> read(List<String> specs, int limit) throws java.io.IOException {
        if (limit < 0) {
            throw new IllegalArgumentException("--limit must be 0 (all) or more, got " + limit);
        }
        Map<Task, List<TaskItem>> items = new LinkedHashMap<>();
        for (String spec : specs) {
            int eq = spec.indexOf('=');
            if (eq <= 0 || eq == spec.length() - 1) {
                throw new IllegalArgumentException("--task " + spec + ": expected NAME=FILE, e.g. piqa=piqa-validation.jsonl");
            }
            Task task;
            try {
                task = Task.parse(spec.substring(0, eq));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--task " + spec + ": " + e.getMessage());
            }
            Path file = Path.of(spec.substring(eq + 1));
            if (!Files.isRegularFile(file)) {
                throw new IllegalArgumentException("--task " + spec + ": no such file " + file);
            }
            if (items.containsKey(task)) {
                throw new IllegalArgumentException("--task " + task.label() + " is given twice");
            }
            items.put(task, TaskReader.read(task, file, limit));
        }
        return items;
    }

    private static void put(JsonObject o, String key, double value) {
        if (!Double.isNaN(value)) {
            o.addProperty(key, value);
        }
    }

    private static String pm(double value, double stderr) {
        if (Double.isNaN(value)) {
            return "";
        }
        return Double.isNaN(stderr) ? String.format(Locale.ROOT, "%.4f", value) : String.format(Locale.ROOT, "%.4f ± %.4f", value, stderr);
    }
}
