package dev.wush.kernel;

import java.lang.foreign.MemorySegment;

/**
 * The packed FP4 kernels, on memory segments (heap arrays wrapped with {@code MemorySegment.ofArray}
 * or native memory). Layouts, shared by all implementations:
 *
 * <ul>
 *   <li>activations {@code x}: (rows, p) float32, row-major; p a multiple of the block size d;
 *   <li>codes: E2M1, two per byte, (rows, p/2) bytes; activation codes in the standard layout (element 2k
 *       in the low nibble), weight codes of the products in the {@link SplitNibbles} layout;
 *   <li>scale codes: one byte per group of d, (rows, p/d); their values come from a 256-entry float
 *       table ({@link Fp4Scales#values()}), so E8M0 and E4M3 scales and global scales need no code here;
 *   <li>transforms {@code tt}: per block the <em>transposed</em> d×d matrix, {@code tt[j·d + k] = T[k][j]},
 *       {@code tstride} floats apart (0: one matrix for all blocks); {@link MemorySegment#NULL} is the identity.
 * </ul>
 *
 * Every method works on a range of rows or output features so callers can split it across threads.
 * {@link #transformRows} and {@link #quantizeRows} give bit-identical results in every implementation;
 * the matrix products agree up to float32 summation order.
 */
public interface Fp4Kernels {

    /** "native (avx512-vnni)", "native (avx2)", "native (scalar)" or "java". */
    String name();

    /** {@code y[r] = x[r] · Tᵀ} block by block, rows [r0, r1). */
    void transformRows(MemorySegment x, long r0, long r1, int p, int d, MemorySegment tt, long tstride, MemorySegment y);

    /**
     * Fused transform and quantization of activations, rows [r0, r1): every block is transformed, then
     * its group of d gets a scale code by the format's rule and its elements E2M1 codes.
     */
    void quantizeRows(MemorySegment x, long r0, long r1, int p, int d, MemorySegment tt, long tstride, Fp4Scales format,
            MemorySegment codes, MemorySegment scales);

    /**
     * W4A4: {@code y[r·ldy + o] = Σ_k a[r,k]·w[o,k]} for all {@code rows} and o in [o0, o1), both operands
     * packed, float32 accumulation. p must be a multiple of 32.
     */
    void gemmW4A4(MemorySegment aCodes, MemorySegment aScales, int rows, MemorySegment wCodes, MemorySegment wScales,
            long o0, long o1, int p, int d, MemorySegment aScaleValues, MemorySegment wScaleValues, MemorySegment y, long ldy);

    /**
     * A whole W4A4 linear for output features [o0, o1): {@link #quantizeRows} of all rows of x, then
     * {@link #gemmW4A4} with the weight's scale table for both operands (W4A4 uses one format for both).
     * Identical results to those two calls; an implementation may fuse them.
     */
    default void linearW4A4(MemorySegment x, int rows, int p, int d, MemorySegment tt, long tstride, Fp4Scales format,
            MemorySegment wCodes, MemorySegment wScales, long o0, long o1, MemorySegment wScaleValues, MemorySegment y, long ldy) {
        MemorySegment codes = MemorySegment.ofArray(new byte[rows * p / 2]);
        MemorySegment scales = MemorySegment.ofArray(new byte[rows * (p / d)]);
        quantizeRows(x, 0, rows, p, d, tt, tstride, format, codes, scales);
        gemmW4A4(codes, scales, rows, wCodes, wScales, o0, o1, p, d, wScaleValues, wScaleValues, y, ldy);
    }

    /** W4A16: as {@link #gemmW4A4} with float activations x (rows, p). p must be a multiple of 32. */
    void gemvW4A16(MemorySegment x, int rows, MemorySegment wCodes, MemorySegment wScales, long o0, long o1, int p, int d,
            MemorySegment wScaleValues, MemorySegment y, long ldy);

    /**
     * Sum of the first n floats of x, reading each once: a memory-read probe, so benchmarks can relate
     * kernel times to the bandwidth measured on the same machine.
     */
    double streamSum(MemorySegment x, long n);

    /**
     * The kernels to use: the native library when it loads, else the Java fallback. The system property
     * {@code wush.kernels} ({@code auto}, {@code native}, {@code java}) overrides the choice;
     * {@code native} fails when the library cannot load. The native kernels run at the best instruction set of
     * this CPU ({@link KernelIsa}); {@code wush.kernels.isa} forces a lower one.
     */
    static Fp4Kernels get() {
        return DefaultKernels.instance();
    }

    /** The pure-Java kernels. */
    static Fp4Kernels java() {
        return JavaFp4Kernels.INSTANCE;
    }

    /** The native kernels, or null with the reason in {@link NativeFp4Kernels#loadError()}. */
    static Fp4Kernels nativeKernels() {
        return NativeFp4Kernels.instance();
    }

    /**
     * The native kernels at each instruction set this CPU runs, lowest first (for comparing them); empty when
     * the library did not load.
     */
    static java.util.List<Fp4Kernels> nativeVariants() {
        NativeFp4Kernels k = NativeFp4Kernels.instance();
        if (k == null) {
            return java.util.List.of();
        }
        return java.util.Arrays.stream(KernelIsa.values()).filter(i -> i.compareTo(k.best()) <= 0).map(i -> (Fp4Kernels) k.at(i)).toList();
    }
}
