package dev.wush.it;

import dev.wush.zoo.llama.LlamaArchitecture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.core.Linear;
import dev.wush.calib.Activations;
import dev.wush.nn.BlockPaths;
import dev.wush.quant.format.Mxfp4;
import dev.wush.quant.format.Nvfp4;
import dev.wush.quant.format.QuantFormat;
import dev.wush.quant.layer.LayerError;
import dev.wush.quant.layer.LayerInput;
import dev.wush.quant.layer.LayerTransform;
import dev.wush.quant.layer.QuantizedLayer;
import dev.wush.quant.layer.Rtn;
import dev.wush.quant.layer.RtnErrorTable;
import dev.wush.quant.transform.BlockTransform;
import dev.wush.quant.transform.Hadamard;
import dev.wush.quant.transform.Linalg;
import dev.wush.quant.transform.TransformKind;
import dev.wush.translators.TextTokenizer;
import dev.wush.translators.TokenWindows;
import dev.wush.quant.pipeline.DecoderInputs;
import dev.wush.zoo.llama.LlamaForCausalLM;
import dev.wush.zoo.llama.LlamaLoader;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.junit.jupiter.api.Test;

/**
 * The per-linear W4A4 RTN error table of REFERENCE.md (stories260K, decoder block 2, 128 windows of
 * 256 calibration tokens).
 *
 * <p>Identity and Hadamard are fully determined, so they must match to 0.5% (measured: 0.1%).
 *
 * <p>WUSH depends on the signs of the eigenvectors U in {@code T = H·Λ^(-1/4)·Uᵀ·W'ᵀ}: flipping them by a
 * diagonal S gives {@code T' = H·S·Hᵀ·T}, a different transform with a different error. The reference took
 * its signs from the GPU solver; this library fixes them by a rule. Neither is more right, so the test
 * measures the spread itself: for every WUSH cell it draws {@value #SIGN_SAMPLES} seeded sign choices and
 * requires the reference value and this library's value to lie inside the range they span, widened by
 * {@value #SPREAD_MARGIN} of its width on each side (a random draw — which the reference's signs are —
 * falls outside the range of N others with probability 2/(N+1), 6% for N = 32; the margin absorbs that
 * tail, and is still far tighter than the 20% a fixed bound would need for k_proj). WUSH must also beat
 * identity and Hadamard in every row, as in the reference.
 */
class LayerReportReferenceTest {

    static final int SIGN_SAMPLES = 32;
    static final double SPREAD_MARGIN = 0.25;

    static final List<String> LINEARS = LlamaArchitecture.LINEARS;
    // REFERENCE.md: rows q, k, v, o, gate, up, down; columns MXFP4 I, H, WUSH, NVFP4 I, H, WUSH
    static final double[][] REFERENCE = {
        {0.00772, 0.00786, 0.00398, 0.00442, 0.00620, 0.00328},
        {0.00548, 0.00470, 0.00253, 0.00340, 0.00300, 0.00198},
        {0.04020, 0.04187, 0.01809, 0.02209, 0.02881, 0.01552},
        {0.02433, 0.02584, 0.01684, 0.01472, 0.01595, 0.01251},
        {0.02785, 0.02638, 0.02149, 0.01766, 0.01799, 0.01578},
        {0.02715, 0.02693, 0.02161, 0.01703, 0.01784, 0.01566},
        {0.05255, 0.03745, 0.02786, 0.02381, 0.02770, 0.02101},
    };

    @Test
    void reproducesTheBlock2Table() throws Exception {
        List<QuantFormat> formats = List.of(Mxfp4.DEFAULT, Nvfp4.FIXED);
        List<TransformKind> kinds = List.of(TransformKind.IDENTITY, TransformKind.HADAMARD, TransformKind.WUSH);
        var dir = Shared.model("stories260K");
        try (Model model = Model.newInstance("m", Device.cpu(), "PyTorch");
                TextTokenizer tokenizer = TextTokenizer.load(dir, 1, List.of(2L))) {
            NDManager manager = model.getNDManager();
            LlamaForCausalLM lm = LlamaLoader.load(dir, manager, DataType.FLOAT32);
            long[] tokens = tokenizer.encodeWithBos(Files.readString(Shared.DIR.resolve("data/tinystories/calib.txt")));
            long[][] windows = Arrays.copyOf(TokenWindows.cut(tokens, 256), 128);
            Map<String, Activations> inputs = DecoderInputs.capture(new LlamaArchitecture(lm), manager, windows, 2, 4);
            List<String> report = new ArrayList<>();
            List<String> failures = new ArrayList<>();
            for (int row = 0; row < LINEARS.size(); row++) {
                String name = LINEARS.get(row);
                Activations x = inputs.get(name);
                assertEquals(128 * 256, x.rows());
                float[] w = ((Linear) BlockPaths.find(lm, "model.layers.2." + name)).getParameters().get("weight").getArray().toFloatArray();
                int out = w.length / x.features();
                Map<String, Double> errors = RtnErrorTable.errors(manager, name, w, out, x.features(), x.values(), x.rows(), formats,
                        kinds, 0, () -> {});
                List<Double> cells = List.copyOf(errors.values());
                for (int c = 0; c < 6; c++) {
                    double want = REFERENCE[row][c];
                    double got = cells.get(c);
                    String line = String.format("%s %s: %.5f vs reference %.5f (%+.1f%%)", name, List.copyOf(errors.keySet()).get(c),
                            got, want, 100 * (got - want) / want);
                    if (c % 3 == 2) { // WUSH: inside the spread of sign choices
                        double[] spread = signSpread(manager, name, w, out, x, formats.get(c / 3), row * 2 + c / 3);
                        double margin = SPREAD_MARGIN * (spread[1] - spread[0]);
                        line += String.format("; %d sign choices: %.5f .. %.5f", SIGN_SAMPLES, spread[0], spread[1]);
                        if (want < spread[0] - margin || want > spread[1] + margin || got < spread[0] - margin || got > spread[1] + margin) {
                            failures.add(line);
                        }
                    } else if (Math.abs(got - want) > 0.005 * want) {
                        failures.add(line);
                    }
                    report.add(line);
                }
                assertTrue(cells.get(2) < cells.get(0) && cells.get(2) < cells.get(1), name + ": WUSH wins for MXFP4");
                assertTrue(cells.get(5) < cells.get(3) && cells.get(5) < cells.get(4), name + ": WUSH wins for NVFP4");
            }
            System.out.println(String.join("\n", report));
            assertTrue(failures.isEmpty(), "outside their bounds:\n" + String.join("\n", failures));
        }
    }

    /** Min and max WUSH error over {@link #SIGN_SAMPLES} random sign flips of the eigenvectors of every block. */
    static double[] signSpread(NDManager manager, String name, float[] w, int out, Activations x, QuantFormat format, long seed) {
        int d = format.groupSize();
        int in = x.features();
        LayerInput layer = RtnErrorTable.layerInput(manager, name, w, out, in, x.values(), x.rows(), d);
        LayerTransform ruled = Rtn.transforms(layer, d, TransformKind.WUSH, 0);
        DMatrixRMaj h = Hadamard.matrix(d);
        Random random = new Random(seed);
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        for (int sample = 0; sample < SIGN_SAMPLES; sample++) {
            List<BlockTransform> flipped = new ArrayList<>();
            for (int b = 0; b < ruled.blockCount(); b++) {
                DMatrixRMaj s = new DMatrixRMaj(d, d);
                for (int i = 0; i < d; i++) {
                    s.set(i, i, random.nextBoolean() ? 1 : -1);
                }
                DMatrixRMaj r = Linalg.multTransB(Linalg.mult(h, s), h); // H·S·Hᵀ
                BlockTransform t = ruled.block(b);
                flipped.add(new BlockTransform(Linalg.mult(r, t.forward()), Linalg.mult(r, t.weightSide())));
            }
            QuantizedLayer q = Rtn.quantize(name, w, out, in, format, new LayerTransform(TransformKind.WUSH, d, flipped));
            double error = LayerError.normalized(manager, q, x.values(), x.rows(), w, true);
            min = Math.min(min, error);
            max = Math.max(max, error);
        }
        return new double[] {min, max};
    }
}
