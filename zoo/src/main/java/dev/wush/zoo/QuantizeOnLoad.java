package dev.wush.zoo;

import ai.djl.ndarray.NDManager;
import ai.djl.translate.ArgumentsUtil;
import dev.wush.quant.format.Formats;
import dev.wush.translators.TextFiles;
import dev.wush.translators.TextTokenizer;
import dev.wush.translators.TokenWindows;
import dev.wush.zoo.llama.LlamaConfig;
import dev.wush.zoo.llama.LlamaForCausalLM;
import dev.wush.zoo.quant.LlamaQuantizer;
import dev.wush.zoo.quant.QuantMethod;
import dev.wush.zoo.quant.QuantizationConfig;
import dev.wush.zoo.quant.QuantizedCheckpoint;
import dev.wush.zoo.quant.TransformChoice;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * {@code Criteria.optArgument("quantization", "wush:mxfp4")}: quantize while loading. Further
 * arguments: {@code calibration} (a text file, required), {@code method} (rtn | gptq, default gptq),
 * {@code transform} (default wush; also adaptive:…), {@code window} (256), {@code calibWindows} (128),
 * {@code activations} (quantized | full).
 */
final class QuantizeOnLoad {

    private QuantizeOnLoad() {}

    static void apply(LlamaForCausalLM lm, NDManager manager, Path dir, Map<String, Object> args) throws IOException {
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
        QuantizationConfig config = new QuantizationConfig(
                Formats.parse(spec.substring(spec.indexOf(':') + 1)),
                QuantMethod.parse(args.getOrDefault("method", "gptq").toString()),
                TransformChoice.parse(args.getOrDefault("transform", "wush").toString()),
                !"full".equals(args.getOrDefault("activations", "quantized").toString()),
                path -> true, ArgumentsUtil.longValue(args, "seed", 0L), 4096);
        int window = ArgumentsUtil.intValue(args, "window", 256);
        int count = ArgumentsUtil.intValue(args, "calibWindows", 128);
        Path file = Path.of(calibration.toString());
        LlamaConfig c = lm.config();
        long[] tokens;
        try (TextTokenizer tokenizer = TextTokenizer.load(dir, c.bosTokenId(), c.eosTokenIds().stream().map(Integer::longValue).toList())) {
            tokens = tokenizer.encodeWithBos(TextFiles.read(file, "calibration"));
        }
        long[][] windows = TokenWindows.leading(tokens, window, count, "calibration text " + file);
        new LlamaQuantizer(config, 4).quantize(lm, manager, windows, (b, n, r) -> {});
    }
}
