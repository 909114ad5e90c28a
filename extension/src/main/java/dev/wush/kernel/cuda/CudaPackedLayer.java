package dev.wush.kernel.cuda;

import dev.wush.kernel.Fp4Scales;
import dev.wush.kernel.PackedLayer;
import java.lang.foreign.MemorySegment;

/**
 * A {@link PackedLayer} copied to a CUDA device once (packed codes, scale bytes, transforms, scale tables: the
 * same bytes as in host memory) and run by the CUDA kernels on device pointers:
 * {@code y = q(x_pad · Tᵀ) · Ŵᵀ} (W4A4: fused transform + quantization, then the packed GEMM or, for a few
 * rows, the decode GEMV) or {@code (x_pad · Tᵀ) · Ŵᵀ} (W4A16). Scratch space (padded input, activation
 * codes) comes from the device's stream-ordered pool on the caller's stream, so calls on different streams
 * do not share buffers.
 */
public final class CudaPackedLayer implements AutoCloseable {

    private final CudaKernels cuda;
    private final String name;
    private final int in;
    private final int out;
    private final int p;
    private final int d;
    private final boolean quantizeActivations;
    private final Fp4Scales scales;
    private final DeviceBuffer codes;
    private final DeviceBuffer scaleCodes;
    private final DeviceBuffer transforms; // null for the identity
    private final long transformStride;
    private final DeviceBuffer scaleValues; // 256 floats: the full values, for quantization
    private volatile boolean exact;

    /** Copies {@code layer} to the current CUDA device; INT4 layers have no CUDA kernels. */
    public CudaPackedLayer(PackedLayer layer) {
        PackedLayer.KernelArrays k = layer.kernelArrays();
        if (k == null) {
            throw new UnsupportedOperationException(layer.name() + ": " + layer.format().name()
                    + " has no CUDA kernels (only MXFP4 and NVFP4 do)");
        }
        this.cuda = CudaKernels.require();
        this.name = layer.name();
        this.in = layer.in();
        this.out = layer.out();
        this.p = k.kernelIn();
        this.d = layer.blockSize();
        this.quantizeActivations = layer.quantizesActivations();
        this.scales = k.scales();
        this.codes = DeviceBuffer.of(k.codes());
        this.scaleCodes = DeviceBuffer.of(k.scaleCodes());
        this.transforms = k.transformsT().equals(MemorySegment.NULL) ? null : DeviceBuffer.of(k.transformsT());
        this.transformStride = k.transformStride();
        this.scaleValues = DeviceBuffer.of(scales.values());
    }

    public String name() {
        return name;
    }

    /** Device bytes held: codes, scales, transforms and the scale table. */
    public long residentBytes() {
        return codes.bytes() + scaleCodes.bytes() + (transforms == null ? 0 : transforms.bytes()) + scaleValues.bytes();
    }

    /**
     * Exact mode: activation transforms on the CUDA cores, in order, codes bit-identical to the CPU kernels;
     * off (the default), the transforms run on the tensor cores (about float32 accuracy, another order).
     */
    public void setExact(boolean exact) {
        this.exact = exact;
    }

    /**
     * {@code y (rows, out) = layer(x (rows, in))}, float32, row-major, contiguous device pointers, queued on
     * {@code stream}; returns without waiting for the result.
     */
    public void forward(long x, int rows, long y, long stream) {
        if (rows < 0) {
            throw new IllegalArgumentException(name + ": negative row count " + rows);
        }
        if (rows == 0) {
            return;
        }
        long xp = x;
        long padded = 0, aCodes = 0, aScales = 0, transformed = 0;
        try {
            if (in != p) { // zero-pad the features to the kernels' width
                padded = cuda.mallocAsync((long) rows * p * 4, stream);
                cuda.memset(padded, 0, (long) rows * p * 4, stream);
                cuda.copyRows(padded, (long) p * 4, x, (long) in * 4, (long) in * 4, rows, stream);
                xp = padded;
            }
            long tt = transforms == null ? 0 : transforms.address();
            float factor = scales.baseFactor();
            if (quantizeActivations) {
                aCodes = cuda.mallocAsync((long) rows * p / 2, stream);
                aScales = cuda.mallocAsync((long) rows * (p / d), stream);
                cuda.quantizeRows(stream, xp, rows, p, d, tt, transformStride, scales.rule(), scales.globalScale(),
                        scaleValues.address(), aCodes, aScales, exact);
                // W4A4 uses one format for both operands: the activation scale table is the weight's
                cuda.gemmW4A4(stream, aCodes, aScales, rows, codes.address(), scaleCodes.address(), out, p, d,
                        scales.scaleType(), factor * factor, y, out);
            } else {
                long xt = xp;
                if (tt != 0) {
                    transformed = cuda.mallocAsync((long) rows * p * 4, stream);
                    cuda.transformRows(stream, xp, rows, p, d, tt, transformStride, transformed);
                    xt = transformed;
                }
                cuda.gemvW4A16(stream, xt, rows, codes.address(), scaleCodes.address(), out, p, d, scales.scaleType(), factor,
                        y, out);
            }
        } finally {
            for (long scratch : new long[] {padded, aCodes, aScales, transformed}) {
                if (scratch != 0) {
                    cuda.freeAsync(scratch, stream);
                }
            }
        }
    }

    @Override
    public void close() {
        codes.close();
        scaleCodes.close();
        if (transforms != null) {
            transforms.close();
        }
        scaleValues.close();
    }
}
