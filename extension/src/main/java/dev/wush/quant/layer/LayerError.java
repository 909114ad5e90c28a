package dev.wush.quant.layer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Output error of a quantized layer: {@code mean((ŷ − y)²) / mean(y²)} with {@code y = x Wᵀ} the
 * full-precision output and {@code ŷ = q(x_pad Tᵀ) Ŵᵀ} the quantized one (METHOD.md, "Layer error").
 */
public final class LayerError {

    private LayerError() {}

    /**
     * @param x inputs (rows, in) row-major
     * @param weight the original weight (out, in)
     * @param quantizeActivations W4A4 when true, W4A16 when false
     */
    public static double normalized(NDManager parent, QuantizedLayer layer, float[] x, int rows, float[] weight,
            boolean quantizeActivations) {
        try (NDManager m = parent.newSubManager()) {
            NDArray xs = m.create(x, new Shape(rows, layer.in()));
            NDArray w = m.create(weight, new Shape(layer.out(), layer.in()));
            NDArray y = xs.matMul(w.transpose()).toType(DataType.FLOAT64, false);
            NDArray xq = m.create(layer.prepareActivations(x, rows, quantizeActivations), new Shape(rows, layer.paddedIn()));
            NDArray wq = m.create(layer.dequantized(), new Shape(layer.out(), layer.paddedIn()));
            NDArray yq = xq.matMul(wq.transpose()).toType(DataType.FLOAT64, false);
            double err = yq.sub(y).square().mean().getDouble();
            double ref = y.square().mean().getDouble();
            return err / ref;
        }
    }
}
