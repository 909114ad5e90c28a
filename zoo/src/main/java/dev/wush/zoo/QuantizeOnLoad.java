package dev.wush.zoo;

import dev.wush.zoo.llama.LlamaArchitecture;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.wush.io.SafeTensorsCheckpoint;
import dev.wush.io.TextFiles;
import dev.wush.quant.format.Formats;
import dev.wush.translators.TextTokenizer;
import dev.wush.translators.TokenWindows;
import dev.wush.zoo.llama.LlamaConfig;
import dev.wush.zoo.llama.LlamaForCausalLM;
import dev.wush.zoo.llama.LlamaLoader;
import dev.wush.quant.pipeline.HiddenPrecision;
import dev.wush.quant.pipeline.SequentialQuantizer;
import dev.wush.quant.pipeline.QuantMethod;
import dev.wush.quant.pipeline.QuantizationConfig;
import dev.wush.zoo.llama.QuantizedCheckpoint;
import dev.wush.quant.pipeline.TransformChoice;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * {@code Criteria.optArgument("quantization", "wush:mxfp4")}: quantize while loading. Further
 * arguments: {@code calibration} (a text file, required), {@code method} (rtn | gptq, default gptq),
 * {@code transform} (default wush; also adaptive:…), {@code window} (256), {@code calibWindows} (128),
 * {@code activations} (quantized | full), {@code seed} (0), {@code calibHidden} (float32 | bf16 | fp16: how
 * calibration hidden states are held between blocks). Every argument and the calibration file are
 * checked by {@link #settings} before any weight is loaded.
 */
final class QuantizeOnLoad {

    /** What to do, validated; {@code text} is the calibration text, already read. */
    record Settings(QuantizationConfig config, int window, int calibWindows, HiddenPrecision hidden, Path calibration, String text) {}

    private QuantizeOnLoad() {}

    /** Validates the arguments against the model directory (config.json) and reads the calibration text. */
    static Settings settings(Path dir, Map<String, Object> args) throws IOException {
        String spec = args.get("quantization").toString();
        if (!spec.startsWith(QuantizedCheckpoint.QUANT_METHOD + ":")) {
            throw new IllegalArgumentException("quantization '" + spec + "': expected wush:<format>, e.g. wush:mxfp4");
        }
        if (QuantizedCheckpoint.isQuantized(dir)) {
            throw new IllegalArgumentException(dir + " is already WUSH-quantized; drop the quantization argument");
        }
        Object calibration = args.get("calibration");
        if (calibration == null) {
            throw new IllegalArgumentException("quantization " + spec + " needs optArgument(\"calibration\", <text file>)");
        }
        String activations = args.getOrDefault("activations", "quantized").toString();
        if (!activations.equals("quantized") && !activations.equals("full")) {
            throw new IllegalArgumentException("activations '" + activations + "': use quantized (W4A4) or full (W4A16)");
        }
        QuantizationConfig config = new QuantizationConfig(
                Formats.parse(spec.substring(spec.indexOf(':') + 1)),
                QuantMethod.parse(args.getOrDefault("method", "gptq").toString()),
                TransformChoice.parse(args.getOrDefault("transform", "wush").toString()),
                activations.equals("quantized"), path -> true, integer(args, "seed", 0), 4096);
        int window = (int) integer(args, "window", 256);
        int count = (int) integer(args, "calibWindows", 128);
        if (window < 2) {
            throw new IllegalArgumentException("window must be at least 2, got " + window);
        }
        if (count < 1) {
            throw new IllegalArgumentException("calibWindows must be at least 1, got " + count);
        }
        HiddenPrecision hidden;
        try {
            hidden = HiddenPrecision.parse(args.getOrDefault("calibHidden", "float32").toString());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("calibHidden '" + args.get("calibHidden") + "': use float32, bf16 or fp16");
        }
        LlamaConfig.load(dir).requireWindow("window", window, dir);
        Path file = Path.of(calibration.toString());
        return new Settings(config, window, count, hidden, file, TextFiles.read(file, "calibration"));
    }

    private static long integer(Map<String, Object> args, String key, long fallback) {
        Object v = args.get(key);
        if (v == null) {
            return fallback;
        }
        if (v instanceof Number n && n.doubleValue() == n.longValue()) {
            return n.longValue();
        }
        try {
            return Long.parseLong(v.toString().trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + " '" + v + "': expected an integer");
        }
    }

    /**
     * Loads the model block by block while quantizing it: the embeddings, final norm and head first,
     * then each decoder block when calibration reaches it, so memory holds one full-precision block.
     */
    static LlamaForCausalLM load(Path dir, NDManager manager, DataType dtype, Settings s) throws IOException {
        return load(dir, manager, dtype, s, null);
    }

    /** As {@link #load(Path, NDManager, DataType, Settings)}, telling {@code progress} (may be null) of each decoder block done. */
    static LlamaForCausalLM load(Path dir, NDManager manager, DataType dtype, Settings s, ai.djl.util.Progress progress)
            throws IOException {
        LlamaConfig c = LlamaConfig.load(dir);
        long[] tokens;
        try (TextTokenizer tokenizer = TextTokenizer.load(dir, c.bosTokenId(), c.eosTokenIds().stream().map(Integer::longValue).toList())) {
            tokens = tokenizer.encodeWithBos(s.text());
        }
        long[][] windows = TokenWindows.leading(tokens, s.window(), s.calibWindows(), "calibration text " + s.calibration());
        LlamaForCausalLM lm = new LlamaForCausalLM(c);
        try (SafeTensorsCheckpoint checkpoint = SafeTensorsCheckpoint.open(dir)) {
            LlamaLoader.loadSkeleton(lm, checkpoint, manager, dtype);
            LlamaArchitecture architecture = new LlamaArchitecture(lm);
            if (progress != null) {
                progress.reset("Quantizing " + dir.getFileName(), architecture.blocks());
            }
            int[] blocksDone = {0};
            new SequentialQuantizer(s.config(), 4, s.hidden()).quantize(architecture, manager, windows, (b, n, r) -> {},
                    architecture.blockWeights(checkpoint, manager, dtype), block -> {
                        if (progress != null && block + 1 > blocksDone[0]) {
                            blocksDone[0] = block + 1;
                            progress.update(blocksDone[0], "block " + (block + 1) + "/" + architecture.blocks());
                        }
                    });
        }
        return lm;
    }
}
