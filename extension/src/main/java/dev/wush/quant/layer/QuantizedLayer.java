package dev.wush.quant.layer;

import dev.wush.quant.format.QuantFormat;
import dev.wush.quant.format.QuantizedMatrix;

/**
 * A quantized linear layer: weights in the transformed space, packed, with their group scales and
 * the per-block transforms. The layer computes {@code y = q(x_pad · Tᵀ) · Ŵᵀ} where Ŵ is
 * {@link #dequantized()}, (out, paddedIn).
 *
 * @param name the layer, e.g. {@code model.layers.2.self_attn.q_proj}
 * @param in input features before padding
 */
public record QuantizedLayer(String name, QuantFormat format, LayerTransform transform, int out, int in,
        QuantizedMatrix weight) {

    /** Input features after zero-padding to a multiple of the block size. */
    public int paddedIn() {
        return transform.paddedIn();
    }

    /** Dequantized weights in the transformed space, (out, paddedIn) row-major. */
    public float[] dequantized() {
        return weight.dequantize();
    }

    /**
     * The inputs as the layer sees them: zero-padded, transformed, and (when {@code quantize}) fake-
     * quantized per token and group. Returns (rows, paddedIn).
     */
    public float[] prepareActivations(float[] x, int rows, boolean quantize) {
        float[] padded = Padding.columns(x, rows, in, paddedIn());
        transform.applyToActivations(padded, rows);
        if (quantize) {
            dev.wush.quant.format.GroupQuantizer.fakeQuantize(format, padded, rows, paddedIn());
        }
        return padded;
    }
}
