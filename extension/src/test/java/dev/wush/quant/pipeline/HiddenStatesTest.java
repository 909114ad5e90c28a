package dev.wush.quant.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.wush.quant.format.Bf16;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class HiddenStatesTest {

    static NDManager manager;

    @BeforeAll
    static void start() {
        manager = NDManager.newBaseManager("PyTorch");
    }

    @AfterAll
    static void stop() {
        manager.close();
    }

    /** Values spread over many binades, with exact ties of bf16 rounding and signed zeros. */
    static float[] values(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (r.nextGaussian() * Math.pow(2, r.nextInt(-20, 15)));
        }
        v[0] = Float.intBitsToFloat(0x3F808000); // a tie: rounds down to even
        v[1] = Float.intBitsToFloat(0x3F818000); // a tie: rounds up to even
        v[2] = -0f;
        v[3] = 60000f;
        v[4] = Float.intBitsToFloat(0x7C010000); // bf16 bits 0x7C01: a float16 NaN pattern, which must pass through untouched
        return v;
    }

    @Test
    void float32HoldsTheArraysThemselves() {
        try (NDManager work = manager.newSubManager(); HiddenStates states = new HiddenStates(HiddenPrecision.FLOAT32, work)) {
            NDArray h = work.create(values(24, 1), new Shape(2, 3, 4));
            states.add(h, "model.layers.0");
            List<NDArray> seen = new ArrayList<>();
            states.forEach(seen::add);
            assertSame(h, seen.getFirst());
            assertEquals(DataType.FLOAT32, states.computeType());
        }
    }

    @Test
    void bf16RoundsToNearestEvenAndWidensExactlyInEachBatch() {
        try (NDManager work = manager.newSubManager(); HiddenStates states = new HiddenStates(HiddenPrecision.BFLOAT16, work)) {
            float[][] batches = {values(2 * 5 * 8, 2), values(1 * 5 * 8, 3)};
            states.add(work.create(batches[0], new Shape(2, 5, 8)), "model.layers.0");
            states.add(work.create(batches[1], new Shape(1, 5, 8)), "model.layers.0");
            List<float[]> seen = new ArrayList<>();
            List<Shape> shapes = new ArrayList<>();
            states.drain(h -> {
                assertEquals(DataType.FLOAT32, h.getDataType());
                shapes.add(h.getShape());
                seen.add(h.toFloatArray());
            });
            assertEquals(List.of(new Shape(2, 5, 8), new Shape(1, 5, 8)), shapes);
            for (int b = 0; b < 2; b++) {
                float[] expected = batches[b].clone();
                for (int i = 0; i < expected.length; i++) {
                    expected[i] = Bf16.round(expected[i]);
                }
                assertArrayEquals(expected, seen.get(b), "batch " + b);
            }
            assertEquals(1f, seen.getFirst()[0]);
            assertEquals(Float.intBitsToFloat(0x3F820000), seen.getFirst()[1]);
            assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(seen.getFirst()[2]));
            states.forEach(h -> {
                throw new AssertionError("drained states hold nothing");
            });
        }
    }

    @Test
    void fp16IsTheEnginesHalfAndWidensBack() {
        try (NDManager work = manager.newSubManager(); HiddenStates states = new HiddenStates(HiddenPrecision.FLOAT16, work)) {
            float[] v = values(64, 4);
            v[4] = 1e-3f;
            states.add(work.create(v, new Shape(1, 8, 8)), "model.layers.0");
            float[][] seen = new float[1][];
            states.forEach(h -> seen[0] = h.toFloatArray());
            for (int i = 0; i < v.length; i++) {
                assertEquals(Float.float16ToFloat(Float.floatToFloat16(v[i])), seen[0][i], "element " + i);
            }
        }
    }

    @Test
    void fp16OverflowIsAnErrorNamingTheBlockNotAnInfinity() {
        try (NDManager work = manager.newSubManager(); HiddenStates states = new HiddenStates(HiddenPrecision.FLOAT16, work)) {
            float[] v = values(16, 5);
            v[4] = 1e-3f;
            v[7] = 70000f;
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> states.add(work.create(v, new Shape(1, 4, 4)), "model.layers.3"));
            assertTrue(e.getMessage().contains("model.layers.3") && e.getMessage().contains("70000")
                    && e.getMessage().contains("bf16"), e.getMessage());
        }
    }

    @Test
    void parsesTheNamesUsersType() {
        assertEquals(HiddenPrecision.BFLOAT16, HiddenPrecision.parse("BF16"));
        assertEquals(HiddenPrecision.FLOAT16, HiddenPrecision.parse("fp16"));
        assertEquals(HiddenPrecision.FLOAT32, HiddenPrecision.parse("float32"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HiddenPrecision.parse("int8"));
        assertTrue(e.getMessage().contains("'int8'"), e.getMessage());
    }
}
