package dev.wush.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The fused decode attention against a reference written here from the definition: rotary positions in
 * float32 with separate multiplies and adds (the engine's arithmetic: the extended cache must hold exactly
 * its bits), then causal softmax attention in double precision per query head, with grouped key/value heads.
 */
class CachedAttentionTest {

    static Stream<Arguments> cases() {
        // batch, new tokens, cached positions, heads, kv heads, head size
        int[][] shapes = {{1, 1, 7, 4, 2, 16}, {2, 3, 5, 8, 2, 16}, {1, 1, 0, 2, 2, 8}, {1, 2, 33, 6, 3, 10}, {3, 1, 1, 4, 4, 64}};
        List<Fp4Kernels> kernels = Fp4KernelsTest.nativeVariants();
        return kernels.stream().flatMap(k -> Stream.of(shapes).map(s -> Arguments.of(k.name(),
                CachedAttention.of((NativeFp4Kernels) k), new CachedAttention.Shape(s[0], s[1], s[2], s[3], s[4], s[5]))));
    }

    @ParameterizedTest(name = "{0} {2}")
    @MethodSource("cases")
    void matchesTheDefinition(String name, CachedAttention kernel, CachedAttention.Shape s) {
        Random random = new Random(s.hashCode());
        int b = s.batch(), t = s.tokens(), past = s.past(), h = s.heads(), kv = s.kvHeads(), d = s.headDim();
        int total = past + t;
        float[] q = gaussian(random, b * t * h * d);
        float[] k = gaussian(random, b * t * kv * d);
        float[] v = gaussian(random, b * t * kv * d);
        float[] cos = new float[t * d];
        float[] sin = new float[t * d];
        for (int s0 = 0; s0 < t; s0++) {
            for (int i = 0; i < d / 2; i++) {
                double angle = (past + s0) / Math.pow(10000, 2.0 * i / d);
                cos[s0 * d + i] = cos[s0 * d + i + d / 2] = (float) Math.cos(angle);
                sin[s0 * d + i] = sin[s0 * d + i + d / 2] = (float) Math.sin(angle);
            }
        }
        float[] pastK = gaussian(random, b * kv * past * d);
        float[] pastV = gaussian(random, b * kv * past * d);
        float scale = (float) (1 / Math.sqrt(d));
        float[] outK = new float[b * kv * total * d];
        float[] outV = new float[b * kv * total * d];
        float[] context = new float[b * t * h * d];

        kernel.forward(s, scale, seg(q), seg(k), seg(v), seg(cos), seg(sin), past == 0 ? MemorySegment.NULL : seg(pastK),
                past == 0 ? MemorySegment.NULL : seg(pastV), seg(outK), seg(outV), seg(context));

        // the extended cache: past rows as they were, new keys rotated (bit for bit), new values copied
        float[] wantK = new float[outK.length];
        float[] wantV = new float[outV.length];
        for (int bi = 0; bi < b; bi++) {
            for (int g = 0; g < kv; g++) {
                int head = bi * kv + g;
                System.arraycopy(pastK, head * past * d, wantK, head * total * d, past * d);
                System.arraycopy(pastV, head * past * d, wantV, head * total * d, past * d);
                for (int s0 = 0; s0 < t; s0++) {
                    int src = ((bi * t + s0) * kv + g) * d;
                    float[] rotated = rope(k, src, cos, sin, s0, d);
                    System.arraycopy(rotated, 0, wantK, (head * total + past + s0) * d, d);
                    System.arraycopy(v, src, wantV, (head * total + past + s0) * d, d);
                }
            }
        }
        for (int i = 0; i < wantK.length; i++) {
            assertEquals(Float.floatToRawIntBits(wantK[i]), Float.floatToRawIntBits(outK[i]), "key " + i);
            assertEquals(Float.floatToRawIntBits(wantV[i]), Float.floatToRawIntBits(outV[i]), "value " + i);
        }

        // attention in double: query head j reads key/value head j / (h / kv); new token s sees rows 0 .. past + s
        int group = h / kv;
        for (int bi = 0; bi < b; bi++) {
            for (int j = 0; j < h; j++) {
                int head = bi * kv + j / group;
                for (int s0 = 0; s0 < t; s0++) {
                    float[] qr = rope(q, ((bi * t + s0) * h + j) * d, cos, sin, s0, d);
                    int visible = past + s0 + 1;
                    double[] p = new double[visible];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int r = 0; r < visible; r++) {
                        double dot = 0;
                        for (int i = 0; i < d; i++) {
                            dot += (double) qr[i] * wantK[(head * total + r) * d + i];
                        }
                        p[r] = dot * scale;
                        max = Math.max(max, p[r]);
                    }
                    double sum = 0;
                    for (int r = 0; r < visible; r++) {
                        p[r] = Math.exp(p[r] - max);
                        sum += p[r];
                    }
                    for (int i = 0; i < d; i++) {
                        double c = 0;
                        for (int r = 0; r < visible; r++) {
                            c += p[r] / sum * wantV[(head * total + r) * d + i];
                        }
                        float got = context[((bi * t + s0) * h + j) * d + i];
                        assertEquals(c, got, 2e-6 * (1 + Math.abs(c)) * Math.sqrt(visible * d),
                                name + ": batch " + bi + ", head " + j + ", token " + s0 + ", element " + i);
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void shortBuffersAreRefused(String name, CachedAttention kernel, CachedAttention.Shape s) {
        int total = s.past() + s.tokens();
        int qn = s.batch() * s.tokens() * s.heads() * s.headDim();
        int kn = s.batch() * s.tokens() * s.kvHeads() * s.headDim();
        int cache = s.batch() * s.kvHeads() * total * s.headDim();
        MemorySegment past = s.past() == 0 ? MemorySegment.NULL : seg(new float[s.batch() * s.kvHeads() * s.past() * s.headDim()]);
        IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class, () -> kernel.forward(s, 1f, seg(new float[qn]),
                seg(new float[kn]), seg(new float[kn]), seg(new float[s.tokens() * s.headDim()]), seg(new float[s.tokens() * s.headDim()]),
                past, past, seg(new float[cache - 1]), seg(new float[cache]), seg(new float[qn])));
        assertEquals("keys out: needs " + 4L * cache + " bytes, got " + 4L * (cache - 1), e.getMessage());
    }

    @org.junit.jupiter.api.Test
    void badShapesAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new CachedAttention.Shape(1, 1, 0, 6, 4, 16)); // 6 heads over 4
        assertThrows(IllegalArgumentException.class, () -> new CachedAttention.Shape(1, 0, 3, 4, 2, 16)); // no new token
        assertThrows(IllegalArgumentException.class, () -> new CachedAttention.Shape(1, 1, 0, 4, 2, 15)); // odd head size
    }

    /** x·cos + rotate_half(x)·sin for one head starting at x[at], token s's tables; Java float arithmetic (no FMA). */
    private static float[] rope(float[] x, int at, float[] cos, float[] sin, int s, int d) {
        float[] y = new float[d];
        int half = d / 2;
        for (int i = 0; i < d; i++) {
            float rotated = i < half ? -x[at + i + half] : x[at + i - half];
            float a = x[at + i] * cos[s * d + i];
            float c = rotated * sin[s * d + i];
            y[i] = a + c;
        }
        return y;
    }

    private static float[] gaussian(Random random, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) random.nextGaussian();
        }
        return x;
    }

    private static MemorySegment seg(float[] x) {
        return MemorySegment.ofArray(x);
    }

    @org.junit.jupiter.api.Test
    void anUnknownAttentionSettingIsAnErrorAndEngineTurnsTheKernelOff() {
        String before = System.getProperty("wush.attention");
        try {
            System.setProperty("wush.attention", "magic");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, CachedAttention::get);
            assertEquals("wush.attention (WUSH_ATTENTION): expected native or engine, got 'magic'", e.getMessage());
            System.setProperty("wush.attention", "engine");
            assertEquals(null, CachedAttention.get());
        } finally {
            if (before == null) {
                System.clearProperty("wush.attention");
            } else {
                System.setProperty("wush.attention", before);
            }
        }
    }
}
