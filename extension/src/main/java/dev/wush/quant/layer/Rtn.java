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
        int d = format.groupSize();
        int p = Padding.padded(layer.in(), d);
        LayerTransform transform = transforms(layer, d, kind, seed);
        float[] transformed = Padding.columns(layer.weight(), layer.out(), layer.in(), p);
        transform.applyToWeights(transformed, layer.out());
        QuantFormat f = Formats.forTensor(format, QuantFormat.absMax(transformed, 0, transformed.length));
        return new QuantizedLayer(layer.name(), f, transform, layer.out(), layer.in(),
                GroupQuantizer.quantize(f, transformed, layer.out(), p));
    }

    /** The transforms of every block of d input features, each from the block's own statistics. */
    public static LayerTransform transforms(LayerInput layer, int d, TransformKind kind, long seed) {
        int p = Padding.padded(layer.in(), d);
        double[] w = layer.paddedWeight(p);
        double[] h = Padding.square(layer.hessian(), layer.in(), p);
        List<BlockTransform> blocks = new ArrayList<>();
        for (int b = 0; b < p / d; b++) {
            blocks.add(Transforms.block(kind, b, LayerInput.weightGram(w, layer.out(), p, b * d, d),
                    LayerInput.diagonalBlock(h, p, b * d, d), seed));
        }
        return new LayerTransform(kind, d, blocks);
    }
}
