package dev.wush.cli;

import dev.wush.zoo.llama.LlamaArchitecture;
import ai.djl.Device;
import ai.djl.Model;
import ai.djl.ndarray.types.DataType;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.wush.io.OutputDirectory;
import dev.wush.io.SafeTensorsCheckpoint;
import dev.wush.quant.format.Formats;
import dev.wush.quant.format.QuantFormat;
import dev.wush.translators.TextTokenizer;
import dev.wush.zoo.LlamaModelLoader;
import dev.wush.zoo.llama.LlamaConfig;
import dev.wush.zoo.llama.LlamaForCausalLM;
import dev.wush.zoo.llama.LlamaLoader;
import dev.wush.quant.pipeline.LayerReport;
import dev.wush.quant.pipeline.HiddenPrecision;
import dev.wush.quant.pipeline.SequentialQuantizer;
import dev.wush.quant.pipeline.QuantMethod;
import dev.wush.quant.pipeline.QuantizationConfig;
import dev.wush.zoo.llama.QuantizedCheckpoint;
import dev.wush.zoo.llama.QuantizedCheckpointWriter;
import dev.wush.quant.pipeline.TransformChoice;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code wush quantize}: calibrate, quantize every decoder linear, save a checkpoint that loads anywhere. */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = "Quantize all seven linears of every decoder block (W4A4 by default) with WUSH-style block"
                + " transforms, sequentially on calibration text, and save a checkpoint loadable without calibration data.")
final class QuantizeCommand implements Callable<Integer> {

    @Mixin
    ModelOptions model;

    @Mixin
    CalibrationOptions calibration;

    @Option(names = "--out", required = true, paramLabel = "DIR",
            description = "Output directory: new or empty; an existing result of wush quantize only with --overwrite.")
    Path out;

    @Option(names = "--format", defaultValue = "mxfp4", paramLabel = "F",
            description = "mxfp4 (default), mxfp4-ocp, nvfp4, nvfp4-tensor, int4, int4-mse.")
    String format;

    @Option(names = "--method", defaultValue = "gptq", paramLabel = "M", description = "rtn or gptq (default).")
    String method;

    @Option(names = "--transform", defaultValue = "wush", paramLabel = "T",
            description = "identity, hadamard, random, wus, wush (default), adaptive:kurtosis[=Z] or adaptive:error[=identity,hadamard,wush].")
    String transform;

    @Option(names = "--w4a16", description = "Keep activations in full precision (weights only).")
    boolean weightsOnly;

    @Option(names = "--lm-head", paramLabel = "F",
            description = "Also quantize the LM head in F (mxfp4 or nvfp4), weights only (W4A16). Default: keep it as it is.")
    String lmHead;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "Seed of random rotations (default 0).")
    long seed;

    @Option(names = "--batch", defaultValue = "4", paramLabel = "N", description = "Calibration windows per forward pass (default 4).")
    int batch;

    @Option(names = "--calib-hidden", defaultValue = "float32", paramLabel = "P",
            description = "Precision of the calibration hidden states held between decoder blocks: float32 (default),"
                    + " bf16 or fp16. 16-bit halves their memory; computation stays float32.")
    String calibHidden;

    @Option(names = "--overwrite",
            description = "Replace --out if it is a previous result of wush quantize (never another directory).")
    boolean overwrite;

    @Option(names = "--json", description = "End with one JSON line: the report.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        // everything that can be wrong is checked before the model is loaded or calibration starts
        QuantFormat f = Formats.parse(format);
        QuantizationConfig config = new QuantizationConfig(f, QuantMethod.parse(method), TransformChoice.parse(transform),
                !weightsOnly, path -> true, seed, 4096);
        if (lmHead != null) {
            QuantFormat head = Formats.parse(lmHead);
            if (!Formats.label(head).startsWith("mxfp4") && !Formats.label(head).startsWith("nvfp4")) {
                throw new IllegalArgumentException("--lm-head " + lmHead + ": the head is quantized in mxfp4 or nvfp4");
            }
            config = config.withHead(head);
        }
        if (batch < 1) {
            throw new IllegalArgumentException("--batch must be at least 1, got " + batch);
        }
        HiddenPrecision hidden;
        try {
            hidden = HiddenPrecision.parse(calibHidden);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--calib-hidden " + calibHidden + ": use float32, bf16 or fp16");
        }
        model.check();
        calibration.check();
        Path local = Path.of(model.model);
        List<Path> inputs = new ArrayList<>(List.of(calibration.calib));
        if (Files.exists(local)) {
            inputs.add(local);
        }
        try (OutputDirectory target = OutOption.prepare(out, overwrite, QuantizedCheckpoint::whyNotReplaceable, inputs)) {
            Path dir = model.resolve();
            target.checkNotInput(dir);
            LlamaConfig modelConfig = ModelOptions.config(dir);
            calibration.check(modelConfig, dir);
            if (QuantizedCheckpoint.isQuantized(dir)) {
                throw new IllegalArgumentException("--model " + model.model + " is already WUSH-quantized; quantize its"
                        + " full-precision source");
            }
            DataType dtype = LlamaModelLoader.dtype(model.dtype, dir);
            long start = System.nanoTime();
            // block by block: the embeddings, final norm and head now, each decoder block when calibration reaches it
            try (Model m = Model.newInstance("quantize", Device.cpu(), "PyTorch");
                    SafeTensorsCheckpoint weights = SafeTensorsCheckpoint.open(dir);
                    TextTokenizer tokenizer = TextTokenizer.load(dir, modelConfig.bosTokenId(),
                            modelConfig.eosTokenIds().stream().map(Integer::longValue).toList())) {
                LlamaForCausalLM lm = new LlamaForCausalLM(modelConfig);
                m.setBlock(lm);
                // the head is copied from the checkpoint into the output, never loaded; a 16-bit embedding is read in place
                LlamaLoader.loadSkeleton(lm, weights, m.getNDManager(), dtype, false);
                long[][] windows = calibration.windows(tokenizer, System.err);
                int total = lm.config().numHiddenLayers() * 7 + (lmHead == null ? 0 : 1);
                String version = WushCli.class.getPackage().getImplementationVersion();
                List<LayerReport> reports;
                JsonObject report;
                double seconds;
                // each block is written into the staging directory as soon as it is quantized, then freed
                try (QuantizedCheckpointWriter writer = QuantizedCheckpointWriter.open(lm, dir, target.staging(), config,
                        QuantizedCheckpoint.DEFAULT_SHARD_BYTES);
                        ProgressBar bar = Progress.bar("quantize", total, "layers")) {
                    reports = new SequentialQuantizer(config, batch, hidden).quantize(new LlamaArchitecture(lm), m.getNDManager(), windows, (block, blocks, r) -> {
                        bar.setExtraMessage(String.format(Locale.ROOT, "block %d/%d %s", block + 1, blocks,
                                r.name().substring(r.name().indexOf('.', "model.layers.".length()) + 1)));
                        bar.step();
                    }, new LlamaArchitecture(lm).blockWeights(weights, m.getNDManager(), dtype),
                            withEstimate(writer.streaming(e -> OutOption.writeFailed(out, e)), lm.config().numHiddenLayers()));
                    seconds = (System.nanoTime() - start) / 1e9;
                    report = report(config, hidden, reports, dir, windows, seconds);
                    try {
                        writer.finish(reports, version == null ? "development" : version,
                                Map.of("report.json", new GsonBuilder().setPrettyPrinting().create().toJson(report)));
                    } catch (IOException e) {
                        throw OutOption.writeFailed(out, e);
                    }
                }
                try {
                    target.commit();
                } catch (IOException e) {
                    throw OutOption.writeFailed(out, e);
                }
                double bits = QuantizedCheckpoint.bitsPerWeight(out);
                System.out.printf(Locale.ROOT, "%-34s %-9s %12s %8s  %s%n", "layer", "transform", "calib error", "seconds", "why");
                for (LayerReport r : reports) {
                    System.out.printf(Locale.ROOT, "%-34s %-9s %12.5f %8.2f  %s%n", r.name(), r.transform().label(), r.error(),
                            r.seconds(), r.reason() + (r.candidates().isEmpty() ? "" : " " + r.candidates()));
                }
                System.out.printf(Locale.ROOT, "%s %s %s/%s on %d calibration tokens in %.1f s; saved %s (%.2f bits per quantized weight)%n",
                        dir.getFileName(), f.name(), method, transform, (long) windows.length * windows[0].length, seconds, out, bits);
                if (json) {
                    report.addProperty("bits_per_weight", bits);
                    System.out.println(report);
                }
            }
        }
        return 0;
    }

    /**
     * {@code output} (the streaming writer: a full disk says where, and that nothing was replaced), also
     * printing after the first block how long the whole job should take: the first block's time (its
     * weights read, calibrated, quantized and written) times the number of blocks.
     */
    private static SequentialQuantizer.BlockOutput withEstimate(SequentialQuantizer.BlockOutput output, int blocks) {
        long start = System.nanoTime();
        return new SequentialQuantizer.BlockOutput() {
            @Override
            public void embedded() throws IOException {
                output.embedded();
            }

            @Override
            public void blockDone(int block) throws IOException {
                output.blockDone(block);
                if (block == 0 && blocks > 1) {
                    double first = (System.nanoTime() - start) / 1e9;
                    System.err.printf(Locale.ROOT, "%nnote: the first of %d decoder blocks took %s; estimated total %s (done about %s)%n",
                            blocks, duration(first), duration(first * blocks),
                            java.time.LocalTime.now().plusSeconds((long) (first * (blocks - 1))).withNano(0));
                }
            }
        };
    }

    private static String duration(double seconds) {
        long s = Math.round(seconds);
        return s < 120 ? s + " s" : s < 7200 ? String.format(Locale.ROOT, "%.1f min", s / 60.0) : String.format(Locale.ROOT, "%.1f h", s / 3600.0);
    }

    private JsonObject report(QuantizationConfig config, HiddenPrecision hidden, List<LayerReport> reports, Path dir, long[][] windows, double seconds) {
        JsonObject o = new JsonObject();
        o.addProperty("model", dir.toString());
        o.addProperty("out", out.toString());
        o.addProperty("format", Formats.label(config.format()));
        o.addProperty("method", method);
        o.addProperty("transform", transform);
        o.addProperty("activations", config.quantizeActivations() ? "quantized" : "full");
        o.addProperty("calibration_tokens", (long) windows.length * windows[0].length);
        o.addProperty("calibration_hidden", hidden.label());
        o.addProperty("seconds", seconds);
        JsonArray layers = new JsonArray();
        for (LayerReport r : reports) {
            JsonObject l = new JsonObject();
            l.addProperty("name", r.name());
            l.addProperty("transform", r.transform().label());
            l.addProperty("reason", r.reason());
            l.addProperty("calibration_error", r.error());
            JsonObject c = new JsonObject();
            r.candidates().forEach(c::addProperty);
            l.add("candidates", c);
            l.addProperty("seconds", r.seconds());
            layers.add(l);
        }
        o.add("layers", layers);
        return o;
    }
}
