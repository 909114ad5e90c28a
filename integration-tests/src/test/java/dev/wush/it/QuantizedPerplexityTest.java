package dev.wush.it;

import dev.wush.zoo.llama.LlamaArchitecture;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.types.DataType;
import dev.wush.quant.format.Formats;
import dev.wush.quant.transform.TransformKind;
import dev.wush.translators.PerplexityEvaluator;
import dev.wush.translators.PerplexityTranslator;
import dev.wush.translators.TextTokenizer;
import dev.wush.translators.TokenWindows;
import dev.wush.translators.WindowLosses;
import dev.wush.zoo.llama.LlamaForCausalLM;
import dev.wush.zoo.llama.LlamaLoader;
import dev.wush.quant.pipeline.HiddenPrecision;
import dev.wush.quant.pipeline.SequentialQuantizer;
import dev.wush.quant.pipeline.QuantMethod;
import dev.wush.quant.pipeline.QuantizationConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The 24 quantized perplexities of REFERENCE.md: both models × MXFP4/NVFP4 × RTN/GPTQ ×
 * identity/Hadamard/WUSH, W4A4, calibrated on the first 128 windows of 256 tokens of calib.txt and
 * evaluated on all of eval.txt.
 *
 * <p>Tolerances: identity and Hadamard cells have nothing left to chance (the Hadamard matrix and the
 * GPTQ order are fixed), so they differ from the reference only by float summation order; they must land
 * within {@value #DETERMINISTIC_TOLERANCE} (measured: within 0.3%). WUSH cells also depend on
 * eigenvector signs, which this library fixes by a rule and the reference leaves to the eigensolver
 * (see LayerReportReferenceTest), so they get REFERENCE.md's {@value #WUSH_TOLERANCE}. The model runs
 * on the packed kernels, whose quantization is bit-identical native and in Java.
 *
 * <p>The claim of the method — WUSH beats identity and Hadamard for MXFP4 with both methods on both
 * models — is its own test. It asks for the three perplexities it compares, each computed once per run
 * and shared with the reference cells, so it holds whatever the test order or filter.
 *
 * <p>{@code -Dwush.test.calibHidden=bf16|fp16} runs the same grid with the calibration hidden states held
 * in 16 bits (the table of that effect in docs/results.md comes from such runs); the default is float32.
 */
class QuantizedPerplexityTest {

    static final double DETERMINISTIC_TOLERANCE = 0.005;
    static final double WUSH_TOLERANCE = 0.02;

    /** Perplexities computed in this run (by this class and CalibrationHiddenPrecisionTest), by "model format method transform hidden". */
    static final Map<String, Double> MEASURED = new TreeMap<>(); // guarded by measured(), synchronized

    static final HiddenPrecision HIDDEN = HiddenPrecision.parse(System.getProperty("wush.test.calibHidden", "float32"));

    @ParameterizedTest(name = "{0} {1} {2} {3}: reference {4}")
    @CsvSource({
        "stories260K,  mxfp4, rtn,  identity, 8.4599", "stories260K,  mxfp4, rtn,  hadamard, 8.4951", "stories260K,  mxfp4, rtn,  wush, 7.4523",
        "stories260K,  mxfp4, gptq, identity, 7.9460", "stories260K,  mxfp4, gptq, hadamard, 7.5072", "stories260K,  mxfp4, gptq, wush, 6.9804",
        "stories260K,  nvfp4, rtn,  identity, 7.0435", "stories260K,  nvfp4, rtn,  hadamard, 7.2650", "stories260K,  nvfp4, rtn,  wush, 6.7914",
        "stories260K,  nvfp4, gptq, identity, 6.7476", "stories260K,  nvfp4, gptq, hadamard, 6.8585", "stories260K,  nvfp4, gptq, wush, 6.5727",
        "babyllama105, mxfp4, rtn,  identity, 3.2790", "babyllama105, mxfp4, rtn,  hadamard, 3.2935", "babyllama105, mxfp4, rtn,  wush, 3.0079",
        "babyllama105, mxfp4, gptq, identity, 3.0105", "babyllama105, mxfp4, gptq, hadamard, 3.0077", "babyllama105, mxfp4, gptq, wush, 2.8415",
        "babyllama105, nvfp4, rtn,  identity, 2.9016", "babyllama105, nvfp4, rtn,  hadamard, 2.9259", "babyllama105, nvfp4, rtn,  wush, 2.8259",
        "babyllama105, nvfp4, gptq, identity, 2.7713", "babyllama105, nvfp4, gptq, hadamard, 2.7778", "babyllama105, nvfp4, gptq, wush, 2.7255",
    })
    void reproducesTheReference(String name, String format, String method, String transform, double reference) throws Exception {
        double ppl = measured(name, format, method, transform);
        double tolerance = transform.equals("wush") ? WUSH_TOLERANCE : DETERMINISTIC_TOLERANCE;
        System.out.printf("%s %s %s %s (hidden %s): %.4f vs reference %.4f (%+.2f%%, allowed %.1f%%)%n", name, format, method,
                transform, HIDDEN.label(), ppl, reference, 100 * (ppl - reference) / reference, 100 * tolerance);
        assertTrue(Math.abs(ppl - reference) <= tolerance * reference,
                String.format("%s %s %s %s: ppl %.4f, reference %.4f, allowed %.1f%%", name, format, method, transform, ppl,
                        reference, 100 * tolerance));
    }

    @ParameterizedTest(name = "{0} mxfp4 {1}: WUSH beats identity and Hadamard")
    @CsvSource({"stories260K, rtn", "stories260K, gptq", "babyllama105, rtn", "babyllama105, gptq"})
    void wushBeatsIdentityAndHadamardForMxfp4(String name, String method) throws Exception {
        double wush = measured(name, "mxfp4", method, "wush");
        double identity = measured(name, "mxfp4", method, "identity");
        double hadamard = measured(name, "mxfp4", method, "hadamard");
        assertTrue(wush < identity && wush < hadamard,
                String.format("%s mxfp4 %s: WUSH %.4f, identity %.4f, Hadamard %.4f", name, method, wush, identity, hadamard));
    }

    /** The perplexity of one cell with the run's hidden precision, computed at most once per run. */
    static double measured(String name, String format, String method, String transform) throws Exception {
        return measured(name, format, method, transform, HIDDEN);
    }

    static synchronized double measured(String name, String format, String method, String transform, HiddenPrecision hidden)
            throws Exception {
        String key = name + " " + format + " " + method + " " + transform + " " + hidden.label();
        Double known = MEASURED.get(key);
        if (known == null) {
            known = quantizedPerplexity(name, format, method, transform, hidden);
            MEASURED.put(key, known);
        }
        return known;
    }

    static double quantizedPerplexity(String name, String format, String method, String transform, HiddenPrecision hidden)
            throws Exception {
        Path dir = Shared.model(name);
        try (Model model = Model.newInstance("q", Device.cpu(), "PyTorch");
                TextTokenizer tokenizer = TextTokenizer.load(dir, 1, List.of(2L))) {
            LlamaForCausalLM lm = LlamaLoader.load(dir, model.getNDManager(), DataType.FLOAT32);
            model.setBlock(lm);
            long[] calib = tokenizer.encodeWithBos(Files.readString(Shared.DIR.resolve("data/tinystories/calib.txt")));
            long[][] windows = Arrays.copyOf(TokenWindows.cut(calib, 256), 128);
            QuantizationConfig config = QuantizationConfig.of(Formats.parse(format), QuantMethod.parse(method), TransformKind.parse(transform));
            new SequentialQuantizer(config, 4, hidden).quantize(new LlamaArchitecture(lm), model.getNDManager(), windows, (b, n, r) -> {});
            try (Predictor<TokenWindows, WindowLosses> predictor = model.newPredictor(new PerplexityTranslator())) {
                return new PerplexityEvaluator(256, 4).evaluate(predictor, tokenizer, Files.readString(Shared.TINYSTORIES_EVAL)).ppl();
            }
        }
    }

    @AfterAll
    static void print() {
        MEASURED.forEach((k, v) -> System.out.printf("%-44s %.4f%n", k, v));
    }
}
