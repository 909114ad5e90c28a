package dev.wush.quant.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import dev.wush.nn.BlockPaths;
import dev.wush.quant.block.WushLinear;
import dev.wush.quant.format.Mxfp4;
import dev.wush.quant.format.Nvfp4;
import dev.wush.quant.transform.TransformKind;
import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A user's own SequentialBlock MLP, quantized like any model. */
class BlockQuantizerTest {

    static SequentialBlock mlp(NDManager m) {
        SequentialBlock block = new SequentialBlock()
                .add(Linear.builder().setUnits(96).build())
                .add(Activation::relu)
                .add(Linear.builder().setUnits(40).build());
        block.initialize(m, DataType.FLOAT32, new Shape(1, 80));
        return block;
    }

    static List<NDList> batches(NDManager m, int count) {
        List<NDList> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            NDArray x = m.randomNormal(new Shape(64, 80));
            x = x.mul(m.arange(80f).mod(16).eq(3).toType(DataType.FLOAT32, false).mul(7).add(1)); // outlier features
            out.add(new NDList(x));
        }
        return out;
    }

    /** ‖after − before‖² / ‖before‖². */
    static double normalisedError(float[] before, float[] after) {
        double err = 0;
        double ref = 0;
        for (int i = 0; i < before.length; i++) {
            err += (after[i] - before[i]) * (after[i] - before[i]);
            ref += before[i] * before[i];
        }
        return err / ref;
    }

    @Test
    void quantizesASequentialBlockMlp() {
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            SequentialBlock block = mlp(m);
            List<NDList> calibration = batches(m, 8);
            NDArray probe = calibration.getFirst().head();
            float[] before = block.forward(new ParameterStore(m, false), new NDList(probe), false).head().toFloatArray();

            QuantizationConfig config = new QuantizationConfig(Mxfp4.DEFAULT, QuantMethod.GPTQ,
                    new TransformChoice.ByError(List.of(TransformKind.IDENTITY, TransformKind.HADAMARD, TransformKind.WUSH)),
                    true, BlockQuantizer.DEFAULT_LAYERS, 0, 512);
            List<LayerReport> reports = BlockQuantizer.quantize(block, m, calibration, config);
            assertEquals(2, reports.size());
            assertEquals(2, BlockPaths.all(block).values().stream().filter(b -> b instanceof WushLinear).count());
            for (LayerReport r : reports) {
                assertEquals(3, r.candidates().size(), r.toString());
                assertEquals(r.candidates().values().stream().mapToDouble(Double::doubleValue).min().orElseThrow(), r.error(), 1e-12);
            }
            float[] after = block.forward(new ParameterStore(m, false), new NDList(probe), false).head().toFloatArray();
            double error = normalisedError(before, after);
            assertTrue(error < 0.05, "normalised output error " + error);
        }
    }

    @Test
    void filterSelectsLayersByName() {
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            SequentialBlock block = mlp(m);
            List<String> paths = new ArrayList<>(BlockPaths.linears(block).keySet());
            QuantizationConfig only = new QuantizationConfig(Nvfp4.FIXED, QuantMethod.RTN, TransformChoice.fixed(TransformKind.HADAMARD),
                    true, BlockQuantizer.matching("^" + paths.getLast() + "$"), 0, 256);
            List<LayerReport> reports = BlockQuantizer.quantize(block, m, batches(m, 2), only);
            assertEquals(1, reports.size());
            assertTrue(BlockPaths.find(block, paths.getFirst()) instanceof Linear, "the first linear is left alone");
            QuantizationConfig none = new QuantizationConfig(Nvfp4.FIXED, QuantMethod.RTN, TransformChoice.fixed(TransformKind.HADAMARD),
                    true, BlockQuantizer.matching("nothing"), 0, 256);
            assertThrows(IllegalArgumentException.class, () -> BlockQuantizer.quantize(block, m, batches(m, 1), none));
        }
    }

    @Test
    void aQuantizedBlockTreeSavesAndLoadsThroughDjl(@TempDir Path dir) throws Exception {
        QuantizationConfig config = new QuantizationConfig(Mxfp4.DEFAULT, QuantMethod.GPTQ,
                new TransformChoice.ByError(List.of(TransformKind.IDENTITY, TransformKind.HADAMARD, TransformKind.WUSH)),
                true, BlockQuantizer.DEFAULT_LAYERS, 0, 512);
        float[] expected;
        NDArray probe;
        try (NDManager data = NDManager.newBaseManager("PyTorch")) {
            List<NDList> calibration = batches(data, 4);
            float[] probeValues = calibration.getFirst().head().toFloatArray();
            try (Model model = Model.newInstance("mlp", "PyTorch")) {
                SequentialBlock block = mlp(model.getNDManager());
                BlockQuantizer.quantize(block, model.getNDManager(), calibration, config);
                model.setBlock(block);
                model.save(dir, "mlp");
                probe = data.create(probeValues, new Shape(64, 80));
                expected = block.forward(new ParameterStore(data, false), new NDList(probe), false).head().toFloatArray();
            }
            try (Model fresh = Model.newInstance("mlp", "PyTorch")) {
                SequentialBlock block = mlp(fresh.getNDManager()); // random weights, replaced by what was saved
                List<String> replaced = WushLinear.placeholders(block, config.layers());
                assertEquals(2, replaced.size());
                fresh.setBlock(block);
                fresh.load(dir, "mlp");
                float[] actual = block.forward(new ParameterStore(data, false), new NDList(probe), false).head().toFloatArray();
                assertArrayEquals(expected, actual, "outputs after Model.save and Model.load");
                WushLinear first = (WushLinear) BlockPaths.find(block, replaced.getFirst());
                assertArrayEquals(new Shape[] {new Shape(64, 96)}, first.getOutputShapes(new Shape[] {new Shape(64, 80)}));
                fresh.close();
                assertFalse(first.packed().isOpen(), "closing the model frees the packed layer");
                assertThrows(IllegalStateException.class,
                        () -> block.forward(new ParameterStore(data, false), new NDList(probe), false));
            }
        }
    }

    @Test
    void wushLinearParametersOfAnotherVersionAreRefused() {
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            WushLinear shell = WushLinear.unloaded();
            DataInputStream in = new DataInputStream(new ByteArrayInputStream(new byte[] {9, 0, 0, 0}));
            MalformedModelException e = assertThrows(MalformedModelException.class, () -> shell.loadParameters(m, in));
            assertTrue(e.getMessage().contains("version 9"), e.getMessage());
            IllegalStateException notLoaded = assertThrows(IllegalStateException.class,
                    () -> shell.forward(new ParameterStore(m, false), new NDList(m.zeros(new Shape(1, 8))), false));
            assertTrue(notLoaded.getMessage().contains("Model.load"), notLoaded.getMessage());
        }
    }
}
