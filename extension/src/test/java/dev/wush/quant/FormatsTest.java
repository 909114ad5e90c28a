package dev.wush.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wush.quant.format.Bf16;
import dev.wush.quant.format.E2M1;
import dev.wush.quant.format.E4M3;
import dev.wush.quant.format.E8M0;
import dev.wush.quant.format.Formats;
import dev.wush.quant.format.Fp4Packing;
import dev.wush.quant.format.GroupQuantizer;
import dev.wush.quant.format.Int4;
import dev.wush.quant.format.Mxfp4;
import dev.wush.quant.format.Nvfp4;
import dev.wush.quant.format.QuantFormat;
import dev.wush.quant.format.QuantizedMatrix;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class FormatsTest {

    static final List<QuantFormat> ALL = List.of(Mxfp4.DEFAULT, new Mxfp4(Mxfp4.Rule.OCP), Nvfp4.FIXED,
            Nvfp4.perTensor(10), Int4.ABSMAX, Int4.GAUSSIAN);

    @Test
    void e2m1RoundsToNearestWithTiesToTheEvenCode() {
        float[] grid = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
        for (int i = 0; i < 8; i++) {
            assertEquals(i, E2M1.encode(grid[i]));
            if (i > 0) {
                assertEquals(i | 8, E2M1.encode(-grid[i]));
            }
            assertEquals(grid[i], E2M1.decode(i));
            assertEquals(-grid[i], E2M1.decode(i | 8));
        }
        // midpoints go to the even index: 0.25→0, 0.75→1 (idx 2), 1.25→1 (2), 1.75→2 (4), 2.5→2 (4), 3.5→4 (6), 5→4 (6)
        float[][] ties = {{0.25f, 0}, {0.75f, 1}, {1.25f, 1}, {1.75f, 2}, {2.5f, 2}, {3.5f, 4}, {5f, 4}};
        for (float[] t : ties) {
            assertEquals(t[1], E2M1.decode(E2M1.encode(t[0])), "tie at " + t[0]);
            assertEquals(-t[1], E2M1.decode(E2M1.encode(-t[0])), "tie at " + -t[0]);
        }
        assertEquals(0.5f, E2M1.decode(E2M1.encode(0.2501f)));
        assertEquals(1.5f, E2M1.decode(E2M1.encode(1.74f)));
        assertEquals(3f, E2M1.decode(E2M1.encode(3.49f)));
        assertEquals(6f, E2M1.decode(E2M1.encode(5.01f)));
        assertEquals(6f, E2M1.decode(E2M1.encode(1e9f)), "saturates");
        assertEquals(-6f, E2M1.decode(E2M1.encode(-7f)));
        assertEquals(0b1001, E2M1.encode(-0.5f), "sign is bit 3");
        assertEquals(0b1000, E2M1.encode(-0.1f), "a negative value rounding to zero keeps its sign");
    }

    @Test
    void branchFreeRoundingEqualsEncodeThenDecode() {
        Random random = new Random(9);
        float[] special = {0f, -0f, 0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5f, 6f, 7f, -0.25f, -5f, 1e-30f, -1e30f,
            Math.nextUp(0.25f), Math.nextDown(0.75f), Math.nextUp(5f)};
        for (float x : special) {
            assertEquals(E2M1.decode(E2M1.encode(x)), E2M1.round(x), "at " + x);
        }
        for (int i = 0; i < 100_000; i++) {
            float x = (float) (random.nextGaussian() * 4);
            assertEquals(E2M1.decode(E2M1.encode(x)), E2M1.round(x), "at " + x);
        }
        for (QuantFormat f : ALL) { // the group fast path gives the same values as the code path
            float[] m = new float[f.groupSize() * 50];
            for (int i = 0; i < m.length; i++) {
                m[i] = (float) (random.nextGaussian() * Math.exp(random.nextGaussian()));
            }
            float[] fast = m.clone();
            GroupQuantizer.fakeQuantize(f, fast, 50, f.groupSize());
            assertArrayEquals(GroupQuantizer.quantize(f, m, 50, f.groupSize()).dequantize(), fast, f.name());
        }
    }

    @Test
    void e8m0() {
        assertEquals(1f, E8M0.decode(127));
        assertEquals(0x1p-127f, E8M0.decode(0));
        assertEquals(0x1p127f, E8M0.decode(254));
        assertTrue(Float.isNaN(E8M0.decode(255)));
        assertEquals(0, E8M0.encodeExponent(-200), "clamps low");
        assertEquals(254, E8M0.encodeExponent(300), "clamps high");
        assertEquals(0, E8M0.floorLog2(1f));
        assertEquals(0, E8M0.floorLog2(1.99f));
        assertEquals(-1, E8M0.floorLog2(0.75f));
        assertEquals(2, E8M0.floorLog2(4f));
        assertEquals(-149, E8M0.floorLog2(Float.MIN_VALUE));
        assertEquals(-127, E8M0.floorLog2(0x1.8p-127f));
    }

    @Test
    void e4m3RoundsToNearestEvenAndSaturates() {
        assertEquals(0x38, E4M3.encode(1f));
        assertEquals(0x7E, E4M3.encode(448f));
        assertEquals(0x7E, E4M3.encode(1000f), "saturates");
        assertEquals(0xFE, E4M3.encode(-1000f));
        assertEquals(0x08, E4M3.encode(0x1p-6f), "smallest normal");
        assertEquals(0x01, E4M3.encode(0x1p-9f), "smallest subnormal");
        assertEquals(0x00, E4M3.encode(0x1p-11f), "rounds to zero");
        assertEquals(0x38, E4M3.encode(1.0625f), "tie 1.0 | 1.125 goes to the even mantissa");
        assertEquals(0x3A, E4M3.encode(1.1875f), "tie 1.125 | 1.25 goes to the even mantissa");
        assertEquals(0x02, E4M3.encode(0x1.8p-9f), "subnormal tie 1.5·2^-9 → 2·2^-9");
        assertEquals(0xC0, E4M3.encode(-2f));
        assertEquals(E4M3.NAN, E4M3.encode(Float.NaN));
        assertTrue(Float.isNaN(E4M3.decode(0x7F)));
        assertEquals(1.625f, E4M3.decode(E4M3.encode(1f / 0.6f)));
        for (int c = 0; c < 256; c++) {
            if ((c & 0x7F) == 0x7F) {
                continue;
            }
            assertEquals(c, E4M3.encode(E4M3.decode(c)), "round trip of code " + c);
        }
    }

    @Test
    void bf16RoundsToNearestEven() {
        assertEquals(1f, Bf16.round(1f));
        assertEquals(1f, Bf16.round(Float.intBitsToFloat(0x3F808000)), "tie → even (down)");
        assertEquals(Float.intBitsToFloat(0x3F820000), Bf16.round(Float.intBitsToFloat(0x3F818000)), "tie → even (up)");
        assertTrue(Float.isNaN(Bf16.round(Float.NaN)));
    }

    @Test
    void mxfp4ScaleKeepsTheLargestElementUnclipped() {
        float[] g = new float[32];
        g[3] = 5f;
        g[7] = -1f;
        int code = Mxfp4.DEFAULT.scaleCode(g, 0, 32);
        assertEquals(127 + 2, code, "2^floor(log2 5)");
        float s = Mxfp4.DEFAULT.scaleValue(code);
        assertEquals(4f / 3, s);
        assertEquals(16f / 3, Mxfp4.DEFAULT.roundTrip(5f, s), 1e-6, "5/(4/3) = 3.75 → 4");
        assertEquals(-4f / 3, Mxfp4.DEFAULT.roundTrip(-1f, s), 1e-6, "-0.75 → -1");
        Random random = new Random(1);
        for (int t = 0; t < 1000; t++) {
            float amax = 0;
            for (int i = 0; i < 32; i++) {
                g[i] = (float) (random.nextGaussian() * Math.exp(random.nextGaussian() * 3));
                amax = Math.max(amax, Math.abs(g[i]));
            }
            float ratio = amax / Mxfp4.DEFAULT.scaleValue(Mxfp4.DEFAULT.scaleCode(g, 0, 32));
            assertTrue(ratio >= 3 && ratio < 6, "AbsMax/scale in [3, 6): " + ratio);
            float ocp = amax / new Mxfp4(Mxfp4.Rule.OCP).scaleValue(new Mxfp4(Mxfp4.Rule.OCP).scaleCode(g, 0, 32));
            assertTrue(ocp >= 4 && ocp < 8, "OCP: AbsMax/scale in [4, 8): " + ocp);
        }
        assertEquals(6f * 0.5f, new Mxfp4(Mxfp4.Rule.OCP).roundTrip(3.9f, 0.5f), "OCP clips above 6·scale");
    }

    @Test
    void nvfp4Scales() {
        float[] g = new float[16];
        g[0] = 6f;
        int code = Nvfp4.FIXED.scaleCode(g, 0, 16);
        assertEquals(E4M3.encode(10f), code, "E4M3(amax·10/6)");
        assertEquals(1f, Nvfp4.FIXED.scaleValue(code), 1e-7);
        g[0] = 1f;
        float s = Nvfp4.FIXED.scaleValue(Nvfp4.FIXED.scaleCode(g, 0, 16));
        assertEquals(1.625f / 10, s, 1e-7, "E4M3(1.667) = 1.625");
        Nvfp4 tensor = Nvfp4.perTensor(448 * 6 * 2f);
        assertEquals(2f, tensor.globalScale());
        g[0] = 12f;
        assertEquals(2f, tensor.scaleValue(tensor.scaleCode(g, 0, 16)), 1e-6, "E4M3(12/(6·2)) · 2");
    }

    @Test
    void int4() {
        float[] g = new float[32];
        g[0] = 7f;
        g[1] = 3.5f;
        g[2] = -7f;
        float s = Int4.ABSMAX.scaleValue(Int4.ABSMAX.scaleCode(g, 0, 32));
        assertEquals(1f, s);
        assertEquals(4f, Int4.ABSMAX.roundTrip(3.5f, s), "round half to even");
        assertEquals(2f, Int4.ABSMAX.roundTrip(2.5f, s));
        assertEquals(-8f, Int4.ABSMAX.roundTrip(-9f, s), "clamps to -8");
        assertEquals(7f, Int4.ABSMAX.roundTrip(9f, s), "clamps to 7");
        assertTrue(Int4.GAUSSIAN_ALPHA > 2.3 && Int4.GAUSSIAN_ALPHA < 2.9, "ACIQ's 4-bit Gaussian clip ≈ 2.5σ: " + Int4.GAUSSIAN_ALPHA);
        // α minimises the Gaussian MSE of the grid
        double best = Int4.gaussianMse(Int4.GAUSSIAN_ALPHA);
        assertTrue(best < Int4.gaussianMse(Int4.GAUSSIAN_ALPHA - 0.05) && best < Int4.gaussianMse(Int4.GAUSSIAN_ALPHA + 0.05));
        // a group's clip is min(amax, α·rms): a 10σ outlier among unit values is clipped
        float[] group = new float[32];
        java.util.Arrays.fill(group, 1f);
        group[0] = 10f;
        double rms = Math.sqrt((31 + 100) / 32.0);
        float expected = Bf16.round((float) (Math.min(10, Int4.GAUSSIAN_ALPHA * rms) / 7));
        assertEquals(expected, Int4.GAUSSIAN.scaleValue(Int4.GAUSSIAN.scaleCode(group, 0, 32)));
        assertTrue(expected < 10f / 7);
        assertEquals(Bf16.round(10f / 7), Int4.ABSMAX.scaleValue(Int4.ABSMAX.scaleCode(group, 0, 32)));
    }

    @Test
    void zeroGroupsAndZeroScalesDecodeToZeros() {
        for (QuantFormat f : ALL) {
            float[] zeros = new float[f.groupSize() * 2];
            float[] copy = zeros.clone();
            GroupQuantizer.fakeQuantize(f, copy, 1, copy.length);
            assertArrayEquals(zeros, copy, f.name());
            QuantizedMatrix q = GroupQuantizer.quantize(f, zeros, 2, f.groupSize());
            assertArrayEquals(zeros, q.dequantize(), f.name());
        }
        float[] tiny = new float[16];
        tiny[0] = 1e-9f;
        assertEquals(0, Nvfp4.FIXED.scaleValue(Nvfp4.FIXED.scaleCode(tiny, 0, 16)));
        GroupQuantizer.fakeQuantize(Nvfp4.FIXED, tiny, 1, 16);
        assertArrayEquals(new float[16], tiny, "a scale that rounds to zero gives zeros, not NaN");
    }

    @Test
    void nanAndInfinityInAnActivationPropagate() {
        for (QuantFormat f : ALL) {
            for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY}) {
                float[] x = new float[f.groupSize()];
                x[0] = 1;
                x[1] = bad;
                GroupQuantizer.fakeQuantize(f, x, 1, x.length);
                assertTrue(Float.isNaN(x[0]) && Float.isNaN(x[5]), f.name() + " with " + bad);
            }
        }
    }

    @Test
    void packingLayoutAndRoundTrip() {
        assertArrayEquals(new byte[] {0x21, (byte) 0xF3}, Fp4Packing.pack(new byte[] {1, 2, 3, 15}));
        assertArrayEquals(new byte[] {0x05}, Fp4Packing.pack(new byte[] {5}));
        Random random = new Random(3);
        byte[] codes = new byte[1001];
        for (int i = 0; i < codes.length; i++) {
            codes[i] = (byte) random.nextInt(16);
        }
        assertArrayEquals(codes, Fp4Packing.unpack(Fp4Packing.pack(codes), codes.length));
        assertThrows(IllegalArgumentException.class, () -> Fp4Packing.unpack(new byte[2], 5));
    }

    @Test
    void quantizedMatrixDecodesLikeFakeQuantization() {
        Random random = new Random(4);
        for (QuantFormat f : ALL) {
            float[] m = new float[8 * 64];
            for (int i = 0; i < m.length; i++) {
                m[i] = (float) random.nextGaussian();
            }
            QuantizedMatrix q = GroupQuantizer.quantize(f, m, 8, 64);
            float[] fake = m.clone();
            GroupQuantizer.fakeQuantize(f, fake, 8, 64);
            assertArrayEquals(fake, q.dequantize(), f.name());
            assertEquals(4 + (double) f.scaleBits() / f.groupSize(), q.bitsPerElement());
        }
        assertThrows(IllegalArgumentException.class, () -> GroupQuantizer.quantize(Mxfp4.DEFAULT, new float[40], 1, 40));
    }

    @Test
    void parsesNames() {
        assertEquals(Mxfp4.DEFAULT, Formats.parse("MXFP4"));
        assertEquals(Nvfp4.FIXED, Formats.parse("nvfp4"));
        assertEquals(Int4.GAUSSIAN, Formats.parse("int4-mse"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Formats.parse("fp3"));
        assertTrue(e.getMessage().contains("fp3") && e.getMessage().contains("mxfp4"), e.getMessage());
    }

    static double groupError(QuantFormat f, float[] g) {
        float s = f.scaleValue(f.scaleCode(g, 0, g.length));
        double e = 0;
        for (float v : g) {
            double d = v - f.roundTrip(v, s);
            e += d * d;
        }
        return e;
    }
}
