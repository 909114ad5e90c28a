package dev.wush.kernel;

import dev.wush.quant.format.E2M1Format;
import dev.wush.quant.format.Mxfp4;
import dev.wush.quant.format.Nvfp4;
import dev.wush.quant.format.QuantFormat;

/**
 * What the kernels need to know of an E2M1 format: how a group's scale code is chosen ({@link #rule},
 * {@link #globalScale}, for the native code; {@link #format} itself for Java) and the value of each of the
 * 256 scale codes ({@link #values}, which fold in the MXFP4 constant 1/3 or the NVFP4 global scale).
 */
public record Fp4Scales(E2M1Format format, int rule, float globalScale, float[] values) {

    /** MXFP4, official rule: {@code 2^floor(log2 amax)}, value ×1/3. */
    public static final int MXFP4 = 0;
    /** MXFP4, OCP rule: {@code 2^(floor(log2 amax) − 2)}. */
    public static final int MXFP4_OCP = 1;
    /** NVFP4: {@code E4M3(amax / (6·g))}, value ×g. */
    public static final int NVFP4 = 2;

    /** The kernels' view of {@code format}; throws for formats without E2M1 elements (INT4). */
    public static Fp4Scales of(QuantFormat format) {
        if (!supports(format)) {
            throw new IllegalArgumentException(format.name() + " has no packed FP4 kernels (only MXFP4 and NVFP4 do)");
        }
        int rule = switch (format) {
            case Mxfp4 m -> m.rule() == Mxfp4.Rule.OFFICIAL ? MXFP4 : MXFP4_OCP;
            case Nvfp4 n -> NVFP4;
            default -> throw new IllegalArgumentException(format.name());
        };
        float g = format instanceof Nvfp4 n ? n.globalScale() : 1f;
        float[] values = new float[256];
        for (int c = 0; c < 256; c++) {
            values[c] = format.scaleValue(c);
        }
        return new Fp4Scales((E2M1Format) format, rule, g, values);
    }

    /**
     * How the GPU products read a scale code ({@code values[c] = base(c) · baseFactor()}): as a power of two,
     * {@code 2^(c − 127)} (MXFP4, {@link dev.wush.kernel.cuda.CudaKernels#SCALE_E8M0}), or as an E4M3 value (NVFP4,
     * {@link dev.wush.kernel.cuda.CudaKernels#SCALE_E4M3}); a base times any E2M1 value is exact in BF16 and is what
     * the block-scaled FP4 tensor cores take.
     */
    public int scaleType() {
        return format instanceof Nvfp4 ? 1 : 0;
    }

    /** See {@link #scaleType()}: 1/3 (MXFP4), 1 (MXFP4 OCP) or the NVFP4 global scale. */
    public float baseFactor() {
        return switch (rule) {
            case MXFP4 -> 1f / 3;
            case MXFP4_OCP -> 1f;
            default -> globalScale;
        };
    }

    /** True for the formats the kernels run: MXFP4 (both rules) and NVFP4. */
    public static boolean supports(QuantFormat format) {
        return format instanceof E2M1Format && (format instanceof Mxfp4 || format instanceof Nvfp4);
    }
}
