package dev.wush.quant.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.wush.nn.BlockPaths;
import dev.wush.nn.NamedBlock;
import dev.wush.nn.ReleasedBlock;
import dev.wush.quant.block.WushLinear;
import dev.wush.quant.format.Mxfp4;
import dev.wush.quant.transform.TransformKind;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The sequential pipeline knows no model family: a made-up one (residual MLP blocks, no attention) is quantized by
 * giving only its description.
 */
class SequentialQuantizerTest {

    static final int HIDDEN = 64;
    static final int VOCAB = 32;

    /** {@code x + down(relu(up(x)))}; extra inputs (positions) are ignored. */
    static final class ToyBlock extends NamedBlock {
        ToyBlock(NDManager m) {
            putChild("up", linear(m, 2 * HIDDEN, HIDDEN));
            putChild("down", linear(m, HIDDEN, 2 * HIDDEN));
        }

        @Override
        protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
            NDArray x = inputs.head();
            NDArray h = child("up").forward(ps, new NDList(x), training).head();
            h = ai.djl.nn.Activation.relu(h);
            return new NDList(x.add(child("down").forward(ps, new NDList(h), training).head()));
        }
    }

    static final class ToyModel extends NamedBlock {
        final NDArray table; // (vocab, hidden)

        ToyModel(NDManager m, int blocks) {
            table = m.randomNormal(new Shape(VOCAB, HIDDEN));
            Stack stack = putChild("blocks", new Stack());
            for (int b = 0; b < blocks; b++) {
                stack.add(String.valueOf(b), new ToyBlock(m));
            }
            putChild("head", linear(m, VOCAB, HIDDEN));
        }

        @Override
        protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
            throw new UnsupportedOperationException("the pipeline runs the blocks one by one");
        }
    }

    static final class Stack extends NamedBlock {
        void add(String name, Block block) {
            putChild(name, block);
        }

        @Override
        protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
            throw new UnsupportedOperationException();
        }
    }

    static Linear linear(NDManager m, int out, int in) {
        Linear l = Linear.builder().setUnits(out).build();
        l.initialize(m, DataType.FLOAT32, new Shape(1, in));
        return l;
    }

    /** The made-up family's description: all the pipeline is told. */
    record ToyArchitecture(ToyModel model, int blocks) implements DecoderArchitecture {
        @Override
        public Block root() {
            return model;
        }

        @Override
        public String blockPath(int block) {
            return "blocks." + block;
        }

        @Override
        public List<String> linears() {
            return List.of("up", "down");
        }

        @Override
        public String inputGroup(String linear) {
            return linear; // each reads its own input
        }

        @Override
        public NDArray embed(ParameterStore ps, NDArray tokens) {
            return tokens.oneHot(VOCAB).matMul(model.table);
        }

        @Override
        public NDList blockInputs(NDManager manager, int length, DataType type) {
            return new NDList();
        }

        @Override
        public NDArray beforeHead(ParameterStore ps, NDArray hidden) {
            return hidden;
        }

        @Override
        public String headPath() {
            return "head";
        }

        @Override
        public boolean tiedHead() {
            return false;
        }
    }

    static long[][] windows(int count, int length, long seed) {
        Random random = new Random(seed);
        long[][] w = new long[count][length];
        for (long[] row : w) {
            for (int i = 0; i < length; i++) {
                row[i] = random.nextInt(VOCAB);
            }
        }
        return w;
    }

    static float[] run(ToyArchitecture arch, NDManager m, long[][] tokens) {
        ParameterStore ps = new ParameterStore(m, false);
        NDArray h = arch.embed(ps, m.create(tokens));
        for (int b = 0; b < arch.blocks(); b++) {
            h = BlockPaths.find(arch.root(), arch.blockPath(b)).forward(ps, new NDList(h), false).head();
        }
        return h.toFloatArray();
    }

    @Test
    void anotherFamilyNeedsOnlyItsDescription() {
        ai.djl.engine.Engine.getEngine("PyTorch").setRandomSeed(7); // the toy's weights and table
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            ToyArchitecture arch = new ToyArchitecture(new ToyModel(m, 3), 3);
            long[][] probe = windows(2, 16, 9);
            float[] before = run(arch, m, probe);
            QuantizationConfig config = new QuantizationConfig(Mxfp4.DEFAULT, QuantMethod.GPTQ,
                    TransformChoice.fixed(TransformKind.WUSH), true, path -> true, 0, 256, Mxfp4.DEFAULT);
            List<String> done = new ArrayList<>();
            List<LayerReport> reports = new SequentialQuantizer(config, 2).quantize(arch, m, windows(8, 16, 1),
                    (block, blocks, r) -> done.add(block + "/" + blocks));
            assertEquals(7, reports.size(), "two linears in each of three blocks, and the head");
            assertEquals(List.of("0/3", "0/3", "1/3", "1/3", "2/3", "2/3", "2/3"), done);
            for (int b = 0; b < 3; b++) {
                for (String linear : arch.linears()) {
                    assertTrue(BlockPaths.find(arch.root(), arch.linearPath(b, linear)) instanceof WushLinear, b + "." + linear);
                }
            }
            assertTrue(BlockPaths.find(arch.root(), "head") instanceof WushLinear);
            double error = BlockQuantizerTest.normalisedError(before, run(arch, m, probe));
            // W4A4 MXFP4 of random weights through three residual blocks loses about 5%; wrong wiring (a Hessian
            // from another input, a block fed the wrong hidden states) gives errors of order 1
            assertTrue(error < 0.15, "normalised output error " + error);

            WushLinear up = (WushLinear) BlockPaths.find(arch.root(), arch.linearPath(0, "up"));
            SequentialQuantizer.release(arch, 0);
            assertTrue(BlockPaths.find(arch.root(), "blocks.0") instanceof ReleasedBlock);
            assertFalse(up.packed().isOpen(), "a released block's packed memory is freed at once");
            assertThrows(IllegalStateException.class, () -> run(arch, m, probe));
        }
    }
}
