package dev.wush.cli;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.types.DataType;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.wush.io.OutputDirectory;
import dev.wush.io.TextFiles;
import dev.wush.kernel.PackedLayer;
import dev.wush.nn.BlockPaths;
import dev.wush.quant.block.WushLinear;
import dev.wush.quant.format.Formats;
import dev.wush.quant.pipeline.HiddenPrecision;
import dev.wush.quant.pipeline.LayerReport;
import dev.wush.quant.pipeline.QuantMethod;
import dev.wush.quant.pipeline.QuantizationConfig;
import dev.wush.quant.pipeline.SequentialQuantizer;
import dev.wush.quant.pipeline.TransformChoice;
import dev.wush.translators.Perplexity;
import dev.wush.translators.PerplexityEvaluator;
import dev.wush.translators.PerplexityTranslator;
import dev.wush.translators.TextTokenizer;
import dev.wush.translators.TokenWindows;
import dev.wush.translators.WindowLosses;
import dev.wush.translators.tasks.ChoiceScores;
import dev.wush.translators.tasks.ContextChoices;
import dev.wush.translators.tasks.ContinuationTranslator;
import dev.wush.translators.tasks.Task;
import dev.wush.translators.tasks.TaskEvaluator;
import dev.wush.translators.tasks.TaskItem;
import dev.wush.translators.tasks.TaskResult;
import dev.wush.zoo.LlamaModelLoader;
import dev.wush.zoo.llama.LlamaArchitecture;
import dev.wush.zoo.llama.LlamaConfig;
import dev.wush.zoo.llama.LlamaForCausalLM;
import dev.wush.zoo.llama.LlamaLoader;
import dev.wush.zoo.llama.QuantizedCheckpoint;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code wush compare}: quantize with several configurations, evaluate each, and write a report with plots. */
@Command(name = "compare", mixinStandardHelpOptions = true,
        description = "Quantizes the model with each configuration, evaluates each (perplexity, and tasks when given), and"
                + " writes DIR/report.md with a table and PNG plots, and DIR/report.json.")
final class CompareCommand implements Callable<Integer> {

    static final String MARKER = "<!-- written by wush compare -->";

    @Mixin
    ModelOptions model;

    @Mixin
    CalibrationOptions calibration;

    @Option(names = "--data", required = true, paramLabel = "FILE", description = "UTF-8 text whose perplexity is reported.")
    Path data;

    @Option(names = "--configs", required = true, split = ",", paramLabel = "F:M:T",
            description = "Configurations, format:method:transform, e.g. mxfp4:rtn:identity,mxfp4:gptq:wush,nvfp4:rtn:adaptive:error.")
    List<String> configs;

    @Option(names = "--task", paramLabel = "NAME=FILE", description = "A zero-shot task and its JSON-lines file (as eval-tasks); repeatable.")
    List<String> tasks = new ArrayList<>();

    @Option(names = "--limit", defaultValue = "0", paramLabel = "N", description = "Score the first N items of each task (default all).")
    int limit;

    @Option(names = "--batch", defaultValue = "4", paramLabel = "N", description = "Windows per forward pass (default 4).")
    int batch;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Directory of the report (written whole, then renamed into place).")
    Path out;

    @Option(names = "--overwrite", description = "Replace --out when it holds a previous report of wush compare (nothing else).")
    boolean overwrite;

    @Option(names = "--json", description = "End with one JSON line: the report's numbers.")
    boolean json;

    /** One configuration's results. */
    record Row(String config, QuantizationConfig quantization, double ppl, List<TaskResult> tasks, double bits, double quantizeSeconds,
            double evalSeconds, List<LayerReport> reports) {}

    @Override
    public Integer call() throws Exception {
        System.setProperty("java.awt.headless", "true");
        if (batch < 1) {
            throw new IllegalArgumentException("--batch must be at least 1, got " + batch);
        }
        Map<String, QuantizationConfig> grid = new LinkedHashMap<>();
        for (String spec : configs) {
            if (grid.put(spec, parse(spec)) != null) {
                throw new IllegalArgumentException("--configs: " + spec + " is given twice");
            }
        }
        Map<Task, List<TaskItem>> taskItems = EvalTasksCommand.read(tasks, limit);
        model.check();
        calibration.check();
        String text = TextFiles.read(data, "--data");
        List<Path> inputs = new ArrayList<>(List.of(calibration.calib, data));
        try (OutputDirectory target = OutOption.prepare(out, overwrite, CompareCommand::whyNotReplaceable, inputs)) {
            Path dir = model.resolve();
            target.checkNotInput(dir);
            LlamaConfig config = ModelOptions.config(dir);
            calibration.check(config, dir);
            if (QuantizedCheckpoint.isQuantized(dir)) {
                throw new IllegalArgumentException("--model " + model.model + " is already WUSH-quantized; compare from its full-precision source");
            }
            DataType dtype = LlamaModelLoader.dtype(model.dtype, dir);
            List<Row> rows = new ArrayList<>();
            Row baseline;
            long[][] windows;
            long evalLength;
            // one tokenizer for the whole grid: calibration and data are encoded once, the tasks use it in every run
            try (TextTokenizer tokenizer = LlamaModelLoader.tokenizer(dir, config);
                    ProgressBar bar = Progress.bar("compare", 2L * grid.size() + 1, "steps")) {
                windows = calibration.windows(tokenizer, System.err);
                long[] evalTokens = tokenizer.encodeWithBos(text);
                evalLength = evalTokens.length;
                PerplexityEvaluator perplexity = new PerplexityEvaluator(calibration.window, batch);
                perplexity.windowCount(evalTokens);
                TaskEvaluator tasksEvaluator = new TaskEvaluator(tokenizer, false, config.maxPositionEmbeddings(), 8);
                bar.setExtraMessage("fp32");
                baseline = run(dir, dtype, "fp32", null, windows, evalTokens, perplexity, tasksEvaluator, taskItems, bar);
                for (Map.Entry<String, QuantizationConfig> e : grid.entrySet()) {
                    bar.setExtraMessage(e.getKey());
                    rows.add(run(dir, dtype, e.getKey(), e.getValue(), windows, evalTokens, perplexity, tasksEvaluator, taskItems, bar));
                }
            }
            JsonObject report = write(target.staging(), dir, config, baseline, rows, windows, evalLength, taskItems.keySet());
            try {
                target.commit();
            } catch (IOException e) {
                throw OutOption.writeFailed(out, e);
            }
            System.out.print(Files.readString(out.resolve("report.md")).lines().filter(l -> l.startsWith("|"))
                    .reduce("", (a, b) -> a + b + "\n"));
            System.out.printf(Locale.ROOT, "%s: %d configurations compared; report in %s%n", dir.getFileName(), rows.size(),
                    out.resolve("report.md"));
            if (json) {
                System.out.println(report);
            }
        }
        return 0;
    }

    /** {@code format:method:transform}; the transform may itself hold colons ({@code adaptive:error=…}). */
    static QuantizationConfig parse(String spec) {
        String[] parts = spec.split(":", 3);
        if (parts.length != 3) {
            throw new IllegalArgumentException("--configs " + spec + ": expected format:method:transform, e.g. mxfp4:rtn:wush");
        }
        try {
            return new QuantizationConfig(Formats.parse(parts[0]), QuantMethod.parse(parts[1]), TransformChoice.parse(parts[2]), true,
                    path -> true, 0, 4096);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--configs " + spec + ": " + e.getMessage());
        }
    }

    /** Loads the model, quantizes it unless {@code quantization} is null, evaluates it. */
    private Row run(Path dir, DataType dtype, String name, QuantizationConfig quantization, long[][] windows, long[] evalTokens,
            PerplexityEvaluator perplexity, TaskEvaluator tasksEvaluator, Map<Task, List<TaskItem>> taskItems, ProgressBar bar)
            throws Exception {
        try (Model m = Model.newInstance("compare", Device.cpu(), "PyTorch")) {
            LlamaForCausalLM lm = LlamaLoader.load(dir, m.getNDManager(), dtype);
            m.setBlock(lm);
            long start = System.nanoTime();
            List<LayerReport> reports = List.of();
            if (quantization != null) {
                reports = new SequentialQuantizer(quantization, 4, HiddenPrecision.FLOAT32).quantize(new LlamaArchitecture(lm),
                        m.getNDManager(), windows, (block, blocks, r) -> {});
                bar.step();
            }
            double quantizeSeconds = (System.nanoTime() - start) / 1e9;
            long evalStart = System.nanoTime();
            Perplexity ppl;
            try (Predictor<TokenWindows, WindowLosses> p = m.newPredictor(new PerplexityTranslator())) {
                ppl = perplexity.evaluate(p, evalTokens, done -> {});
            }
            List<TaskResult> results = new ArrayList<>();
            if (!taskItems.isEmpty()) {
                try (Predictor<ContextChoices, ChoiceScores> p = m.newPredictor(new ContinuationTranslator())) {
                    for (Map.Entry<Task, List<TaskItem>> e : taskItems.entrySet()) {
                        results.add(TaskEvaluator.metrics(e.getKey(), e.getValue(), tasksEvaluator.score(p, e.getValue(), done -> {})));
                    }
                }
            }
            double evalSeconds = (System.nanoTime() - evalStart) / 1e9;
            bar.step();
            long bits = 0;
            long weights = 0;
            for (var block : BlockPaths.all(lm).values()) {
                if (block instanceof WushLinear w) {
                    PackedLayer layer = w.packed();
                    bits += layer.checkpointBits();
                    weights += (long) layer.in() * layer.out();
                }
            }
            return new Row(name, quantization, ppl.ppl(), results, weights == 0 ? 16 : (double) bits / weights, quantizeSeconds,
                    evalSeconds, reports);
        }
    }

    private JsonObject write(Path dir, Path model, LlamaConfig config, Row baseline, List<Row> rows, long[][] windows, long evalTokens,
            java.util.Set<Task> taskSet) throws IOException {
        String name = model.getFileName().toString();
        StringBuilder md = new StringBuilder(MARKER + "\n");
        md.append("# ").append(name).append(": quantization configurations compared\n\n");
        md.append(String.format(Locale.ROOT, "Written by `wush compare` on %s (%s). Calibration: %d windows of %d tokens of `%s`;"
                        + " perplexity on `%s` (%d tokens, windows of %d); W4A4 throughout.%n%n",
                LocalDate.now(), cpu(), windows.length, windows[0].length, calibration.calib.getFileName(), data.getFileName(), evalTokens,
                calibration.window));
        StringBuilder header = new StringBuilder("| configuration | perplexity | vs fp32 |");
        StringBuilder rule = new StringBuilder("|---|---:|---:|");
        for (Task t : taskSet) {
            header.append(' ').append(t.label()).append(" acc |");
            rule.append("---:|");
        }
        if (!taskSet.isEmpty()) {
            header.append(" average acc |");
            rule.append("---:|");
        }
        header.append(" bits per weight | quantize s | eval s |");
        rule.append("---:|---:|---:|");
        md.append(header).append('\n').append(rule).append('\n');
        JsonObject json = new JsonObject();
        json.addProperty("model", name);
        JsonArray list = new JsonArray();
        List<Row> all = new ArrayList<>(List.of(baseline));
        all.addAll(rows);
        for (Row r : all) {
            md.append(String.format(Locale.ROOT, "| %s | %.4f | %s |", r.config(), r.ppl(),
                    r == baseline ? "" : String.format(Locale.ROOT, "%+.2f%%", 100 * (r.ppl() / baseline.ppl() - 1))));
            JsonObject o = new JsonObject();
            o.addProperty("config", r.config());
            o.addProperty("perplexity", r.ppl());
            double sum = 0;
            JsonObject tasksJson = new JsonObject();
            for (TaskResult t : r.tasks()) {
                md.append(String.format(Locale.ROOT, " %.4f ± %.4f |", t.acc(), t.accStderr()));
                tasksJson.addProperty(t.task().label(), t.acc());
                sum += t.acc();
            }
            if (!r.tasks().isEmpty()) {
                md.append(String.format(Locale.ROOT, " %.4f |", sum / r.tasks().size()));
                o.add("acc", tasksJson);
            }
            md.append(String.format(Locale.ROOT, " %s | %.1f | %.1f |%n", r == baseline ? "—"
                    : String.format(Locale.ROOT, "%.2f", r.bits()), r.quantizeSeconds(), r.evalSeconds()));
            o.addProperty("bits_per_weight", r.bits());
            o.addProperty("quantize_seconds", r.quantizeSeconds());
            o.addProperty("eval_seconds", r.evalSeconds());
            list.add(o);
        }
        json.add("runs", list);
        Map<String, Double> ppl = new LinkedHashMap<>();
        Map<String, java.awt.Paint> paints = new LinkedHashMap<>();
        Map<String, List<LayerReport>> layers = new LinkedHashMap<>();
        for (Row r : rows) {
            ppl.put(r.config(), r.ppl());
            paints.put(r.config(), ComparisonCharts.paint(r.quantization().transform() instanceof TransformChoice.Fixed f ? f.kind() : null));
            layers.put(r.config(), r.reports());
        }
        ComparisonCharts.perplexity(dir.resolve("perplexity.png"), name + ": perplexity on " + data.getFileName(), baseline.ppl(), ppl,
                paints);
        java.util.Set<String> gptq = new java.util.HashSet<>();
        java.util.Set<String> mxfp4 = new java.util.HashSet<>();
        for (Row r : rows) {
            if (r.quantization().method() == QuantMethod.GPTQ) {
                gptq.add(r.config());
            }
            if (Formats.label(r.quantization().format()).startsWith("mxfp4")) {
                mxfp4.add(r.config());
            }
        }
        ComparisonCharts.layerErrors(dir.resolve("layer-error.png"), name + ": calibration output error per layer (colour: transform;"
                + " dashed: GPTQ; thick: MXFP4)", layers, paints, gptq, mxfp4);
        md.append("\n![perplexity per configuration](perplexity.png)\n\n![calibration output error per layer](layer-error.png)\n");
        int adaptive = 0;
        for (Row r : rows) {
            if (r.quantization().transform() instanceof TransformChoice.Fixed) {
                continue;
            }
            String file = "choice-" + (++adaptive) + ".png";
            ComparisonCharts.choices(dir.resolve(file), name + ", " + r.config() + ": transform chosen per layer", LlamaArchitecture.LINEARS,
                    config.numHiddenLayers(), r.reports());
            md.append("\n![transform chosen per layer, ").append(r.config()).append("](").append(file).append(")\n");
        }
        Files.writeString(dir.resolve("report.md"), md);
        Files.writeString(dir.resolve("report.json"), new GsonBuilder().setPrettyPrinting().create().toJson(json));
        return json;
    }

    /** The CPU's model name, as the report names the machine it ran on. */
    private static String cpu() {
        try (Stream<String> lines = Files.lines(Path.of("/proc/cpuinfo"))) {
            String model = lines.filter(l -> l.startsWith("model name")).findFirst().map(l -> l.substring(l.indexOf(':') + 1).strip())
                    .orElse("unknown CPU");
            return model + ", " + Runtime.getRuntime().availableProcessors() + " cores";
        } catch (IOException | RuntimeException e) {
            return "unknown CPU";
        }
    }

    /** A previous report: the marker on report.md's first line, and only report files. */
    static String whyNotReplaceable(Path dir) throws IOException {
        Path report = dir.resolve("report.md");
        if (!Files.isRegularFile(report) || !Files.readString(report).startsWith(MARKER)) {
            return "it holds no report.md of wush compare";
        }
        try (Stream<Path> files = Files.list(dir)) {
            List<String> foreign = files.map(p -> p.getFileName().toString())
                    .filter(n -> !n.equals("report.md") && !n.equals("report.json") && !n.matches("(perplexity|layer-error|choice-\\d+)\\.png"))
                    .sorted().toList();
            return foreign.isEmpty() ? null : "it holds " + String.join(", ", foreign) + ", which wush compare did not write";
        }
    }
}
