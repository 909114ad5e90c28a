package dev.wush.kernel;

import dev.wush.Settings;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * Causal self-attention of a few new positions over a key/value cache, fused in one native call (the
 * kernels library's {@code wush_cached_attention}): rotary positions on the new queries and keys (rotate-half
 * layout), the cache extended by the new keys and values, and {@code softmax(q·kᵀ·scale)·v} for every query
 * head, with grouped-query heads. Decoding runs this once per layer and token instead of some fifteen engine
 * operations.
 *
 * <p>All arrays are float32, row-major and contiguous: {@code q} (B, T, H·D), {@code k} and {@code v}
 * (B, T, KV·D) as the projections return them, {@code cos} and {@code sin} (T, D), the cache {@code pastK},
 * {@code pastV} (B, KV, P, D) ({@link MemorySegment#NULL} when P = 0), the extended cache {@code outK},
 * {@code outV} (B, KV, P+T, D) and the output {@code context} (B, T, H·D). New position t sees cache rows
 * 0 .. P+t. The rotated keys are the engine's bits (separate multiplies and add); scores, softmax and the
 * weighted sum agree with the engine to float32 rounding.
 */
public final class CachedAttention {

    private final MethodHandle call;
    private final int isa;

    private CachedAttention(MethodHandle call, int isa) {
        this.call = call;
        this.isa = isa;
    }

    /**
     * The fused attention when the native kernels are in use (see {@link Fp4Kernels#get()}); null when the
     * kernels run on the Java fallback or the system property {@code wush.attention} is {@code engine}, so that
     * callers keep their engine operations.
     */
    public static CachedAttention get() {
        String mode = Settings.get(Settings.ATTENTION, "native").toLowerCase(java.util.Locale.ROOT);
        switch (mode) {
            case "engine" -> {
                return null;
            }
            case "native" -> {}
            default -> throw new IllegalArgumentException(Settings.describe(Settings.ATTENTION) + ": expected native or engine, got '"
                    + mode + "'");
        }
        return Fp4Kernels.get() instanceof NativeFp4Kernels k ? of(k) : null;
    }

    /** The fused attention at the instruction set of {@code kernels} (scalar, or AVX2 for every level above). */
    static CachedAttention of(NativeFp4Kernels kernels) {
        return new CachedAttention(kernels.cachedAttention(), kernels.isa().ordinal());
    }

    /** Shapes of one call: batch B, new positions T, cached positions P, query heads H, key/value heads KV, head size D. */
    public record Shape(int batch, int tokens, int past, int heads, int kvHeads, int headDim) {

        public Shape {
            if (batch < 1 || tokens < 1 || past < 0 || heads < 1 || kvHeads < 1 || headDim < 2 || headDim % 2 != 0) {
                throw new IllegalArgumentException("attention shapes must be positive (head size even), got " + this);
            }
            if (heads % kvHeads != 0) {
                throw new IllegalArgumentException(heads + " query heads do not group over " + kvHeads + " key/value heads");
            }
        }

        long cacheBytes(int positions) {
            return 4L * batch * kvHeads * positions * headDim;
        }
    }

    /** Runs the attention; key/value heads are shared out over the {@link KernelThreads} budget. */
    public void forward(Shape s, float scale, MemorySegment q, MemorySegment k, MemorySegment v, MemorySegment cos, MemorySegment sin,
            MemorySegment pastK, MemorySegment pastV, MemorySegment outK, MemorySegment outV, MemorySegment context) {
        long rows = (long) s.batch() * s.tokens();
        Bounds.check("q", q, 4 * rows * s.heads() * s.headDim());
        Bounds.check("context", context, 4 * rows * s.heads() * s.headDim());
        Bounds.check("k", k, 4 * rows * s.kvHeads() * s.headDim());
        Bounds.check("v", v, 4 * rows * s.kvHeads() * s.headDim());
        Bounds.check("cos", cos, 4L * s.tokens() * s.headDim());
        Bounds.check("sin", sin, 4L * s.tokens() * s.headDim());
        if (s.past() > 0) {
            Bounds.check("past keys", pastK, s.cacheBytes(s.past()));
            Bounds.check("past values", pastV, s.cacheBytes(s.past()));
        }
        int total = s.past() + s.tokens();
        Bounds.check("keys out", outK, s.cacheBytes(total));
        Bounds.check("values out", outV, s.cacheBytes(total));
        long groups = (long) s.batch() * s.kvHeads();
        long workPerGroup = 2L * (s.heads() / s.kvHeads()) * s.tokens() * total * s.headDim();
        KernelThreads.split(groups, workPerGroup, (g0, g1) -> {
            int rc;
            try {
                rc = (int) call.invokeExact(isa, q, k, v, cos, sin, pastK, pastV, s.batch(), s.tokens(), s.past(), s.heads(), s.kvHeads(),
                        s.headDim(), scale, g0, g1, outK, outV, context);
            } catch (Throwable e) {
                throw NativeLibraries.rethrow(e);
            }
            if (rc != 0) {
                throw new OutOfMemoryError("attention: no memory for " + total + " scores");
            }
        });
    }
}
