package dev.wush.quant.block;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.wush.nn.NamedBlock;
import dev.wush.quant.format.GroupQuantizer;
import dev.wush.quant.layer.QuantizedLayer;
import dev.wush.quant.transform.TransformKind;

/**
 * The quantized replacement of a {@code Linear}: {@code y = q(x_pad · Tᵀ) · Ŵᵀ (+ bias)}. Inputs are
 * zero-padded to a multiple of the block size, transformed block by block, quantized per token and
 * group in the layer's format (W4A4; off for W4A16), and multiplied with the dequantized weight of
 * the transformed space. This is the dequantize-and-matmul path; packed kernels replace it later.
 */
public final class WushLinear extends NamedBlock {

    private final QuantizedLayer layer;
    private final boolean quantizeActivations;
    private final NDArray weightT;    // (paddedIn, out) float32, Ŵᵀ
    private final NDArray transformT; // (blocks, d, d) float32, T_bᵀ; null for the identity
    private final NDArray bias;       // (out) or null

    /**
     * @param manager owns the arrays this block keeps (a model's manager)
     * @param bias the original layer's bias, or null
     */
    public WushLinear(NDManager manager, QuantizedLayer layer, boolean quantizeActivations, NDArray bias) {
        this.layer = layer;
        this.quantizeActivations = quantizeActivations;
        int p = layer.paddedIn();
        this.weightT = manager.create(layer.dequantized(), new Shape(layer.out(), p)).transpose().duplicate();
        if (layer.transform().kind() == TransformKind.IDENTITY) {
            this.transformT = null;
        } else {
            int d = layer.transform().blockSize();
            int blocks = layer.transform().blockCount();
            float[] t = new float[blocks * d * d];
            for (int b = 0; b < blocks; b++) {
                double[] forward = layer.transform().block(b).forward().data; // (d, d) row-major
                for (int i = 0; i < d; i++) {
                    for (int j = 0; j < d; j++) {
                        t[b * d * d + j * d + i] = (float) forward[i * d + j]; // transposed
                    }
                }
            }
            this.transformT = manager.create(t, new Shape(blocks, d, d));
        }
        this.bias = bias == null ? null : bias.toType(DataType.FLOAT32, true);
        if (this.bias != null) {
            this.bias.attach(manager);
        }
    }

    /** The quantized layer: packed weights, scales, transforms. */
    public QuantizedLayer layer() {
        return layer;
    }

    /** True for W4A4, false for W4A16. */
    public boolean quantizesActivations() {
        return quantizeActivations;
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
        int in = layer.in();
        int p = layer.paddedIn();
        if (shape.get(shape.dimension() - 1) != in) {
            throw new IllegalArgumentException(layer.name() + ": expected " + in + " input features, got " + shape);
        }
        long rows = shape.size() / in;
        NDManager m = x.getManager();
        NDArray flat = x.reshape(rows, in).toType(DataType.FLOAT32, false);
        if (p != in) {
            flat = flat.concat(m.zeros(new Shape(rows, p - in), DataType.FLOAT32), 1);
        }
        if (transformT != null) {
            int d = layer.transform().blockSize();
            long blocks = p / d;
            flat = flat.reshape(rows, blocks, d).transpose(1, 0, 2)   // (blocks, rows, d)
                    .matMul(transformT)                                 // x_b · T_bᵀ
                    .transpose(1, 0, 2).reshape(rows, p);
        }
        if (quantizeActivations) {
            float[] values = flat.toFloatArray();
            GroupQuantizer.fakeQuantize(layer.format(), values, Math.toIntExact(rows), p);
            flat = m.create(values, new Shape(rows, p));
        }
        NDArray y = flat.matMul(weightT);
        if (bias != null) {
            y = y.add(bias);
        }
        long[] outShape = shape.getShape().clone();
        outShape[outShape.length - 1] = layer.out();
        return new NDList(y.reshape(outShape).toType(dtype, false));
    }
}
