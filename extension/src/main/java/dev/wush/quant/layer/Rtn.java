package dev.wush.quant.layer;

import dev.wush.quant.format.Formats;
import dev.wush.quant.format.GroupQuantizer;
import dev.wush.quant.format.QuantFormat;
import dev.wush.quant.transform.BlockTransform;
import dev.wush.quant.transform.TransformKind;
import dev.wush.quant.transform.Transforms;
import java.util.ArrayList;
import java.util.List;

/** Round-to-nearest: for every block independently, T from the block's statistics, {@code Ŵ_i = q(W_i T_i⁻¹)}. */
public final class Rtn {

    private Rtn() {}

    public static QuantizedLayer quantize(LayerInput layer, QuantFormat format, TransformKind kind, long seed) {
        LayerTransform transform = transforms(layer, format.groupSize(), kind, seed);
        return quantize(layer.name(), layer.weight(), layer.out(), layer.in(), format, transform);
    }

    /** RTN of the weights (out, in) in the space of transforms already chosen (no calibration data needed). */
    public static QuantizedLayer quantize(String name, float[] weight, int out, int in, QuantFormat format, LayerTransform transform) {
        int p = transform.paddedIn();
        float[] transformed = Padding.columns(weight, out, in, p);
        transform.applyToWeights(transformed, out);
        QuantFormat f = Formats.forTensor(format, QuantFormat.absMax(transformed, 0, transformed.length));
        return new QuantizedLayer(name, f, transform, out, in, GroupQuantizer.quantize(f, transformed, out, p));
    }

    /** The transforms of every block of d input features, each from the block's own statistics. */
    public static LayerTransform transforms(LayerInput layer, int d, TransformKind kind, long seed) {
        int p = Padding.padded(layer.in(), d);
        List<BlockTransform> blocks = new ArrayList<>();
        for (int b = 0; b < p / d; b++) { // only the diagonal blocks of H are read
            blocks.add(Transforms.block(kind, b, layer.weightGram(b * d, d), layer.hessianBlock(b * d, d), seed));
        }
        return new LayerTransform(kind, d, blocks);
    }
}
