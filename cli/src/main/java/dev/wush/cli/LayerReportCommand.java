package dev.wush.cli;

import dev.wush.zoo.llama.LlamaArchitecture;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.core.Linear;
import ai.djl.repository.zoo.ZooModel;
import com.google.gson.JsonObject;
import dev.wush.calib.Activations;
import dev.wush.nn.BlockPaths;
import dev.wush.quant.format.Formats;
import dev.wush.quant.format.QuantFormat;
import dev.wush.quant.layer.RtnErrorTable;
import dev.wush.quant.transform.TransformKind;
import dev.wush.translators.TextTokenizer;
import dev.wush.translators.TokenWindows;
import dev.wush.translators.WindowLosses;
import dev.wush.zoo.LlamaModelLoader;
import dev.wush.quant.pipeline.DecoderInputs;
import dev.wush.zoo.llama.LlamaConfig;
import dev.wush.zoo.llama.LlamaForCausalLM;
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

/** {@code wush layer-report}: W4A4 RTN output error of one decoder block's linears, format × transform. */
@Command(name = "layer-report", mixinStandardHelpOptions = true,
        description = "Capture the inputs of every linear of decoder block K on the calibration text (unquantized"
                + " model) and print the normalised W4A4 RTN output error mean((ŷ−y)²)/mean(y²) of each linear under"
                + " every format × transform.")
final class LayerReportCommand implements Callable<Integer> {

    @Mixin
    ModelOptions model;

    @Mixin
    CalibrationOptions calibration;

    @Option(names = "--block", required = true, paramLabel = "K", description = "Decoder block index.")
    int block;

    @Option(names = "--formats", defaultValue = "mxfp4,nvfp4,int4", split = ",", paramLabel = "F,…",
            description = "Formats: mxfp4, mxfp4-ocp, nvfp4, nvfp4-tensor, int4, int4-mse (default mxfp4,nvfp4,int4).")
    List<String> formats;

    @Option(names = "--transforms", defaultValue = "identity,hadamard,random,wus,wush", split = ",", paramLabel = "T,…",
            description = "Transforms: identity, hadamard, random, wus, wush (default all).")
    List<String> transforms;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "Seed of the random rotation (default 0).")
    long seed;

    @Option(names = "--batch", defaultValue = "4", paramLabel = "N", description = "Windows per forward pass (default 4).")
    int batch;

    @Option(names = "--json", description = "End with one JSON line: {\"layers\": {\"self_attn.q_proj\": {\"MXFP4/wush\": …}}}.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        List<QuantFormat> fs = formats.stream().map(Formats::parse).toList();
        List<TransformKind> ks = transforms.stream().map(TransformKind::parse).toList();
        if (batch < 1) {
            throw new IllegalArgumentException("--batch must be at least 1, got " + batch);
        }
        model.check();
        calibration.check();
        Path dir = model.resolve();
        LlamaConfig config = ModelOptions.config(dir);
        calibration.check(config, dir);
        if (block < 0 || block >= config.numHiddenLayers()) {
            throw new IllegalArgumentException("--block " + block + ": the model's blocks are 0.." + (config.numHiddenLayers() - 1));
        }
        try (ZooModel<TokenWindows, WindowLosses> zoo = model.load(dir, TokenWindows.class, WindowLosses.class);
                TextTokenizer tokenizer = LlamaModelLoader.tokenizer(zoo);
                NDManager manager = zoo.getNDManager().newSubManager()) {
            LlamaForCausalLM lm = (LlamaForCausalLM) zoo.getBlock();
            long[][] windows = calibration.windows(tokenizer, System.err);
            long start = System.nanoTime();
            Map<String, Activations> inputs = DecoderInputs.capture(new LlamaArchitecture(lm), manager, windows, block, batch);
            Map<String, Map<String, Double>> table = new LinkedHashMap<>();
            try (ProgressBar bar = Progress.bar("layer-report", inputs.size() * fs.size() * ks.size(), "cells")) {
                for (Map.Entry<String, Activations> e : inputs.entrySet()) {
                    String path = "model.layers." + block + "." + e.getKey();
                    Linear linear = (Linear) BlockPaths.find(lm, path);
                    float[] w = linear.getParameters().get("weight").getArray().toFloatArray();
                    int in = e.getValue().features();
                    int out = w.length / in;
                    bar.setExtraMessage(e.getKey());
                    table.put(e.getKey(), RtnErrorTable.errors(manager, path, w, out, in, e.getValue().values(),
                            e.getValue().rows(), fs, ks, seed, bar::step));
                }
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            print(table, windows.length, windows[0].length, seconds);
            if (json) {
                JsonObject layers = new JsonObject();
                table.forEach((name, errors) -> {
                    JsonObject o = new JsonObject();
                    errors.forEach(o::addProperty);
                    layers.add(name, o);
                });
                JsonObject root = new JsonObject();
                root.add("layers", layers);
                System.out.println(root);
            }
        }
        return 0;
    }

    private void print(Map<String, Map<String, Double>> table, int windows, int length, double seconds) {
        List<String> columns = new ArrayList<>(table.values().iterator().next().keySet());
        System.out.printf(Locale.ROOT, "decoder block %d, %d calibration tokens (%d windows of %d), W4A4 RTN,"
                + " normalised output error mean((ŷ−y)²)/mean(y²); * marks the best transform per format%n",
                block, (long) windows * length, windows, length);
        StringBuilder header = new StringBuilder(String.format(Locale.ROOT, "%-18s", "linear"));
        for (String c : columns) {
            header.append(String.format(Locale.ROOT, " %15s", c));
        }
        System.out.println(header);
        table.forEach((name, errors) -> {
            StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "%-18s", name));
            for (String c : columns) {
                String format = c.substring(0, c.indexOf('/'));
                double best = errors.entrySet().stream().filter(x -> x.getKey().startsWith(format + "/"))
                        .mapToDouble(Map.Entry::getValue).min().orElse(Double.NaN);
                double v = errors.get(c);
                row.append(String.format(Locale.ROOT, " %14.5f%s", v, v == best ? "*" : " "));
            }
            System.out.println(row);
        });
        System.out.printf(Locale.ROOT, "%.1f s%n", seconds);
    }
}
