package dev.wush.kernel;

import dev.wush.Settings;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

/**
 * The kernels of {@code src/main/native/wush_kernels.c}, compiled by the Maven build and shipped in the
 * jar under {@code dev/wush/kernel/linux-x86_64/}, called through the FFM API. Downcalls are "critical":
 * they may take heap segments directly (no copies of activations) and must not call back into Java.
 */
final class NativeFp4Kernels implements Fp4Kernels {

    /** Must match WUSH_ABI in wush_kernels.c. */
    static final int ABI = 4;
    static final String RESOURCE = "linux-x86_64/libwushkernels.so";

    private static final NativeLibraries.Loaded<NativeFp4Kernels> LOADED = NativeLibraries.Loaded.attempt(NativeFp4Kernels::load);

    private final String name;
    private final KernelIsa isa;      // what the calls ask for
    private final KernelIsa best;     // what this CPU has
    private final MethodHandle transformRows;
    private final MethodHandle quantizeRows;
    private final MethodHandle gemmW4A4;
    private final MethodHandle linearW4A4;
    private final MethodHandle gemvW4A16;
    private final MethodHandle streamSum;
    private final MethodHandle cachedAttention;

    /** The kernels at the best instruction set of this CPU ; null when the library did not load. */
    static NativeFp4Kernels instance() {
        return LOADED.instance();
    }

    /** The same library at a given instruction set, at most the CPU's best. */
    NativeFp4Kernels at(KernelIsa level) {
        if (level.compareTo(best) > 0) {
            throw new IllegalArgumentException("this CPU runs the kernels at " + best.id() + " at most, not " + level.id());
        }
        return level == isa ? this : new NativeFp4Kernels(this, level);
    }

    /** The best instruction set of this CPU for the kernels. */
    KernelIsa best() {
        return best;
    }

    /** The instruction set these kernels run at. */
    KernelIsa isa() {
        return isa;
    }

    /** Why the library did not load, or null. */
    static String loadError() {
        return LOADED.error();
    }

    private NativeFp4Kernels(SymbolLookup lib) throws Throwable {
        Linker.Option critical = Linker.Option.critical(true);
        int abi = (int) NativeLibraries.downcall(lib, "wush_abi_version", FunctionDescriptor.of(JAVA_INT)).invokeExact();
        if (abi != ABI) {
            throw new UnsatisfiedLinkError("native kernels have ABI " + abi + ", this jar expects " + ABI);
        }
        this.best = KernelIsa.values()[(int) NativeLibraries.downcall(lib, "wush_best_isa", FunctionDescriptor.of(JAVA_INT)).invokeExact()];
        this.isa = best;
        this.name = "native (" + isa.id() + ")";
        this.transformRows = NativeLibraries.downcall(lib, "wush_transform_rows", FunctionDescriptor.ofVoid(JAVA_INT, ADDRESS, JAVA_LONG,
                JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS), critical);
        this.quantizeRows = NativeLibraries.downcall(lib, "wush_quantize_rows", FunctionDescriptor.ofVoid(JAVA_INT, ADDRESS, JAVA_LONG,
                JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_FLOAT, ADDRESS, ADDRESS, ADDRESS), critical);
        this.gemmW4A4 = NativeLibraries.downcall(lib, "wush_gemm_w4a4", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT,
                ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG), critical);
        this.linearW4A4 = NativeLibraries.downcall(lib, "wush_linear_w4a4", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT,
                JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_FLOAT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS,
                JAVA_LONG), critical);
        this.gemvW4A16 = NativeLibraries.downcall(lib, "wush_gemv_w4a16", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS,
                ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG), critical);
        this.streamSum = NativeLibraries.downcall(lib, "wush_stream_sum", FunctionDescriptor.of(JAVA_DOUBLE, JAVA_INT, ADDRESS, JAVA_LONG),
                critical);
        this.cachedAttention = NativeLibraries.downcall(lib, "wush_cached_attention", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS,
                ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT,
                JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS), critical);
    }

    private NativeFp4Kernels(NativeFp4Kernels other, KernelIsa isa) {
        this.best = other.best;
        this.isa = isa;
        this.name = "native (" + isa.id() + ")";
        this.transformRows = other.transformRows;
        this.quantizeRows = other.quantizeRows;
        this.gemmW4A4 = other.gemmW4A4;
        this.linearW4A4 = other.linearW4A4;
        this.gemvW4A16 = other.gemvW4A16;
        this.streamSum = other.streamSum;
        this.cachedAttention = other.cachedAttention;
    }

    /** The bound {@code wush_cached_attention} (see {@link CachedAttention}). */
    MethodHandle cachedAttention() {
        return cachedAttention;
    }

    /**
     * The kernels at the level the system property {@code wush.kernels.isa} names ({@code auto} or unset:
     * these); an unknown name, or a level above this CPU's best, is an error that says so.
     */
    NativeFp4Kernels requested() {
        String forced = Settings.get(Settings.KERNELS_ISA);
        if (forced == null || forced.isBlank() || forced.equalsIgnoreCase("auto")) {
            return this;
        }
        KernelIsa level = KernelIsa.of(forced);
        if (level.compareTo(best) > 0) {
            throw new IllegalArgumentException(Settings.describe(Settings.KERNELS_ISA) + " = " + forced + ": this CPU runs the kernels at " + best.id() + " at most");
        }
        return at(level);
    }

    private static NativeFp4Kernels load() throws Throwable {
        return new NativeFp4Kernels(NativeLibraries.load(NativeFp4Kernels.class, RESOURCE, "the build found no gcc"));
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public void transformRows(MemorySegment x, long r0, long r1, int p, int d, MemorySegment tt, long tstride, MemorySegment y) {
        Bounds.rows(x, y, r1, p, d, tt, tstride);
        try {
            transformRows.invokeExact(isa.ordinal(), x, r0, r1, p, d, tt, tstride, y);
        } catch (Throwable e) {
            throw NativeLibraries.rethrow(e);
        }
    }

    @Override
    public void quantizeRows(MemorySegment x, long r0, long r1, int p, int d, MemorySegment tt, long tstride, Fp4Scales format,
            MemorySegment codes, MemorySegment scales) {
        Bounds.rows(x, MemorySegment.NULL, r1, p, d, tt, tstride);
        Bounds.check("codes", codes, r1 * p / 2);
        Bounds.check("scales", scales, r1 * (p / d));
        try {
            quantizeRows.invokeExact(isa.ordinal(), x, r0, r1, p, d, tt, tstride, format.rule(), format.globalScale(),
                    MemorySegment.ofArray(format.values()), codes, scales);
        } catch (Throwable e) {
            throw NativeLibraries.rethrow(e);
        }
    }

    @Override
    public void gemmW4A4(MemorySegment aCodes, MemorySegment aScales, int rows, MemorySegment wCodes, MemorySegment wScales,
            long o0, long o1, int p, int d, MemorySegment aScaleValues, MemorySegment wScaleValues, MemorySegment y, long ldy) {
        Bounds.packed(p, d, o1, wCodes, wScales, wScaleValues, y, rows, ldy);
        Bounds.check("activation codes", aCodes, (long) rows * p / 2);
        Bounds.check("activation scales", aScales, (long) rows * (p / d));
        Bounds.check("activation scale values", aScaleValues, 256 * 4);
        try {
            status((int) gemmW4A4.invokeExact(isa.ordinal(), aCodes, aScales, rows, wCodes, wScales, o0, o1, p, d, aScaleValues, wScaleValues, y, ldy),
                    rows, p);
        } catch (Throwable e) {
            throw NativeLibraries.rethrow(e);
        }
    }

    @Override
    public void linearW4A4(MemorySegment x, int rows, int p, int d, MemorySegment tt, long tstride, Fp4Scales format,
            MemorySegment wCodes, MemorySegment wScales, long o0, long o1, MemorySegment wScaleValues, MemorySegment y, long ldy) {
        Bounds.rows(x, MemorySegment.NULL, rows, p, d, tt, tstride);
        Bounds.packed(p, d, o1, wCodes, wScales, wScaleValues, y, rows, ldy);
        try {
            status((int) linearW4A4.invokeExact(isa.ordinal(), x, rows, p, d, tt, tstride, format.rule(), format.globalScale(),
                    wScaleValues, wCodes, wScales, o0, o1, y, ldy), rows, p);
        } catch (Throwable e) {
            throw NativeLibraries.rethrow(e);
        }
    }

    @Override
    public void gemvW4A16(MemorySegment x, int rows, MemorySegment wCodes, MemorySegment wScales, long o0, long o1, int p, int d,
            MemorySegment wScaleValues, MemorySegment y, long ldy) {
        Bounds.packed(p, d, o1, wCodes, wScales, wScaleValues, y, rows, ldy);
        Bounds.check("x", x, (long) rows * p * 4);
        try {
            status((int) gemvW4A16.invokeExact(isa.ordinal(), x, rows, wCodes, wScales, o0, o1, p, d, wScaleValues, y, ldy), rows, p);
        } catch (Throwable e) {
            throw NativeLibraries.rethrow(e);
        }
    }

    @Override
    public double streamSum(MemorySegment x, long n) {
        Bounds.check("x", x, n * 4);
        try {
            return (double) streamSum.invokeExact(isa.ordinal(), x, n);
        } catch (Throwable e) {
            throw NativeLibraries.rethrow(e);
        }
    }

    /** The kernels return -1 when their scratch buffers (about rows × p bytes) cannot be allocated. */
    private static void status(int code, int rows, int p) {
        if (code != 0) {
            throw new OutOfMemoryError("native FP4 kernel: no memory for the scratch buffers of " + rows + " × " + p + " activations");
        }
    }
}
