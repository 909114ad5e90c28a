package dev.wush.cli;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.wush.io.JsonFiles;
import dev.wush.io.OutputDirectory;
import dev.wush.io.TensorType;
import dev.wush.zoo.synth.LlamaPresets;
import dev.wush.zoo.synth.SyntheticCheckpoint;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code wush make-model}: a checkpoint of a real model's shapes with seeded random weights. */
@Command(name = "make-model", mixinStandardHelpOptions = true,
        description = "Write a Hugging Face checkpoint (config.json, sharded safetensors with an index, a tokenizer covering"
                + " the vocabulary) with the shapes of a real Llama model and seeded random weights that have outlier"
                + " channels, streamed tensor by tensor: for testing and measuring at scale without the real weights.")
final class MakeModelCommand implements Callable<Integer> {

    @Option(names = "--like", required = true, paramLabel = "NAME",
            description = "Shapes of: llama-3.1-8b, llama-3.1-70b, llama-3.2-1b, llama-3.2-3b.")
    String like;

    @Option(names = "--dtype", defaultValue = "bf16", paramLabel = "TYPE", description = "bf16 (default) or float32.")
    String dtype;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "Seed of the weights (default 0).")
    long seed;

    @Option(names = "--layers", paramLabel = "N", description = "Decoder blocks (default: the model's).")
    Integer layers;

    @Option(names = "--vocab", paramLabel = "N",
            description = "Vocabulary size (default: the model's); at least 259. A small one keeps the LM head out of speed"
                    + " measurements of the decoder. Beginning and end of text become the two last ids.")
    Integer vocab;

    @Option(names = "--shard-size", defaultValue = "5000000000", paramLabel = "BYTES",
            description = "Most weight bytes per shard (default 5000000000, the hub's 5 GB).")
    long shardBytes;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output directory (new or empty).")
    Path out;

    @Option(names = "--overwrite", description = "Replace --out if it is a previous result of wush make-model.")
    boolean overwrite;

    @Override
    public Integer call() throws Exception {
        JsonObject config = LlamaPresets.config(like);
        TensorType type = switch (dtype) {
            case "bf16", "bfloat16" -> TensorType.BF16;
            case "float32", "f32" -> TensorType.F32;
            default -> throw new IllegalArgumentException("--dtype " + dtype + ": use bf16 or float32");
        };
        if (layers != null) {
            if (layers < 1) {
                throw new IllegalArgumentException("--layers must be at least 1, got " + layers);
            }
            config.addProperty("num_hidden_layers", layers);
        }
        if (vocab != null) {
            if (vocab < 259) {
                throw new IllegalArgumentException("--vocab must be at least 259 (256 byte symbols and 2 special tokens), got " + vocab);
            }
            config.addProperty("vocab_size", vocab);
            config.addProperty("bos_token_id", vocab - 2);
            config.addProperty("eos_token_id", vocab - 1);
        }
        if (shardBytes < 1) {
            throw new IllegalArgumentException("--shard-size must be positive, got " + shardBytes);
        }
        JsonObject marker = new JsonObject();
        marker.addProperty("like", like);
        marker.addProperty("seed", seed);
        config.add(SYNTHETIC, marker);
        SyntheticCheckpoint checkpoint = new SyntheticCheckpoint(config, type, seed);
        long start = System.nanoTime();
        OutputDirectory target = OutOption.prepare(out, overwrite, MakeModelCommand::whyNotReplaceable, List.of());
        long total = checkpoint.weightBytes();
        try (target; ProgressBar bar = Progress.bar("make-model", total >> 20, "MB")) {
            checkpoint.write(target.staging(), shardBytes, done -> bar.stepTo(done >> 20));
            target.commit();
        } catch (IOException e) {
            throw OutOption.writeFailed(out, e);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        long shards;
        try (Stream<Path> files = Files.list(out)) {
            shards = files.filter(p -> p.getFileName().toString().endsWith(".safetensors")).count();
        }
        int blocks = config.get("num_hidden_layers").getAsInt();
        System.out.printf(Locale.ROOT, "%s: %s shapes, %d block%s, %s, %.2f GB of weights in %d shard%s, %.1f s (%.0f MB/s)%n",
                out, like, blocks, blocks == 1 ? "" : "s", type == TensorType.BF16 ? "bf16" : "float32",
                total / 1e9, shards, shards == 1 ? "" : "s", seconds, total / 1e6 / seconds);
        return 0;
    }

    static final String SYNTHETIC = "wush_synthetic";

    /** A previous make-model result: its config carries the marker and it holds only checkpoint files. */
    static String whyNotReplaceable(Path dir) throws IOException {
        Path config = dir.resolve("config.json");
        JsonElement marker = Files.isRegularFile(config) ? JsonFiles.readObject(config).get(SYNTHETIC) : null;
        if (marker == null) {
            return "it has no config.json of a synthetic checkpoint";
        }
        try (Stream<Path> files = Files.list(dir)) {
            List<String> foreign = files.map(p -> p.getFileName().toString())
                    .filter(n -> !n.equals("config.json") && !n.equals("tokenizer.json") && !n.equals("model.safetensors.index.json")
                            && !n.matches("model(-\\d{5}-of-\\d{5})?\\.safetensors"))
                    .sorted().toList();
            return foreign.isEmpty() ? null : "it holds " + String.join(", ", foreign) + ", which make-model did not write";
        }
    }
}
