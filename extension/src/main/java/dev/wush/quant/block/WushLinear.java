package dev.wush.quant.block;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.wush.nn.NamedBlock;
import dev.wush.kernel.PackedLayer;
import dev.wush.quant.layer.QuantizedLayer;

/**
 * The quantized replacement of a {@code Linear}: {@code y = q(x_pad · Tᵀ) · Ŵᵀ (+ bias)}. It keeps only
 * the packed layer ({@link PackedLayer}: 4-bit codes, scale bytes, float32 transforms, in native memory)
 * and runs the packed kernels on it: inputs are zero-padded to a multiple of the block size, transformed
 * block by block and quantized per token and group in the layer's format by one fused kernel, then
 * multiplied with the packed weights (W4A4); with activation quantization off the transformed floats are
 * multiplied directly (W4A16).
 */
public final class WushLinear extends NamedBlock {

    private final PackedLayer packed;
    private final NDArray bias; // (out) or null

    /**
     * @param manager owns the arrays this block keeps (a model's manager)
     * @param bias the original layer's bias, or null
     */
    public WushLinear(NDManager manager, QuantizedLayer layer, boolean quantizeActivations, NDArray bias) {
        this(manager, PackedLayer.of(layer, quantizeActivations), bias);
    }

    /** Wraps an already packed layer. */
    public WushLinear(NDManager manager, PackedLayer packed, NDArray bias) {
        this.packed = packed;
        this.bias = bias == null ? null : bias.toType(DataType.FLOAT32, true);
        if (this.bias != null) {
            this.bias.attach(manager);
        }
    }

    /** The packed layer: weights, scales, transforms, kernels. */
    public PackedLayer packed() {
        return packed;
    }

    /** True for W4A4, false for W4A16. */
    public boolean quantizesActivations() {
        return packed.quantizesActivations();
    }

    /** The bias, or null. */
    public NDArray bias() {
        return bias;
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.head();
        DataType dtype = x.getDataType();
        Shape shape = x.getShape();
        int in = packed.in();
        if (shape.dimension() == 0 || shape.get(shape.dimension() - 1) != in) {
            throw new IllegalArgumentException(packed.name() + ": expected " + in + " input features, got " + shape);
        }
        int rows = Math.toIntExact(shape.size() / in);
        float[] y = packed.forward(x.toType(DataType.FLOAT32, false).toFloatArray(), rows);
        long[] outShape = shape.getShape().clone();
        outShape[outShape.length - 1] = packed.out();
        NDArray result = x.getManager().create(y, new Shape(outShape));
        if (bias != null) {
            result = result.add(bias);
        }
        return new NDList(result.toType(dtype, false));
    }
}
