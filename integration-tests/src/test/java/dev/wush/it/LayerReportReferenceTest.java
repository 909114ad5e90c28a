package dev.wush.it;

import dev.wush.zoo.llama.LlamaArchitecture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.core.Linear;
import dev.wush.calib.Activations;
import dev.wush.nn.BlockPaths;
import dev.wush.quant.format.Mxfp4;
import dev.wush.quant.format.Nvfp4;
import dev.wush.quant.format.QuantFormat;
import dev.wush.quant.layer.RtnErrorTable;
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
import org.junit.jupiter.api.Test;

/**
 * The per-linear W4A4 RTN error table of REFERENCE.md (stories260K, decoder block 2, 128 windows of
 * 256 calibration tokens).
 *
 * <p>Identity and Hadamard are fully determined, so they must match to 0.5%. WUSH depends on the
 * eigenvector signs of the solver (under H they change the transform): the reference used the GPU
 * solver's signs, this library a fixed rule. Over random sign choices the errors of these layers
 * spread by up to ±20% around their mean, and the reference values lie inside that spread. So WUSH
 * must win every row, as in the reference, lie within 20% of every reference cell, and within 5% of
 * at least 12 of the 14.
 */
class LayerReportReferenceTest {

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
            LlamaForCausalLM lm = LlamaLoader.load(dir, model.getNDManager(), DataType.FLOAT32);
            long[] tokens = tokenizer.encodeWithBos(Files.readString(Shared.DIR.resolve("data/tinystories/calib.txt")));
            long[][] windows = Arrays.copyOf(TokenWindows.cut(tokens, 256), 128);
            Map<String, Activations> inputs = DecoderInputs.capture(new LlamaArchitecture(lm), model.getNDManager(), windows, 2, 4);
            int withinFive = 0;
            List<String> report = new ArrayList<>();
            for (int row = 0; row < LINEARS.size(); row++) {
                String name = LINEARS.get(row);
                Activations x = inputs.get(name);
                assertEquals(128 * 256, x.rows());
                float[] w = ((Linear) BlockPaths.find(lm, "model.layers.2." + name)).getParameters().get("weight").getArray().toFloatArray();
                Map<String, Double> errors = RtnErrorTable.errors(model.getNDManager(), name, w, w.length / x.features(),
                        x.features(), x.values(), x.rows(), formats, kinds, 0, () -> {});
                List<Double> cells = List.copyOf(errors.values());
                for (int c = 0; c < 6; c++) {
                    double want = REFERENCE[row][c];
                    double got = cells.get(c);
                    double rel = Math.abs(got - want) / want;
                    report.add(String.format("%s %s: %.5f vs %.5f (%+.1f%%)", name, List.copyOf(errors.keySet()).get(c), got, want,
                            100 * (got - want) / want));
                    if (c % 3 == 2) { // WUSH
                        assertTrue(rel < 0.20, report.getLast());
                        withinFive += rel < 0.05 ? 1 : 0;
                    } else {
                        assertTrue(rel < 0.005, report.getLast());
                    }
                }
                assertTrue(cells.get(2) < cells.get(0) && cells.get(2) < cells.get(1), name + ": WUSH wins for MXFP4");
                assertTrue(cells.get(5) < cells.get(3) && cells.get(5) < cells.get(4), name + ": WUSH wins for NVFP4");
            }
            System.out.println(String.join("\n", report));
            assertTrue(withinFive >= 12, withinFive + " of 14 WUSH cells within 5%:\n" + String.join("\n", report));
        }
    }
}
