package dev.wush.bench;

import dev.wush.quant.format.QuantFormat;
import dev.wush.quant.format.QuantizedMatrix;
import dev.wush.quant.layer.LayerTransform;
import dev.wush.quant.layer.QuantizedLayer;
import dev.wush.quant.layer.Rtn;
import dev.wush.quant.transform.BlockTransform;
import dev.wush.quant.transform.TransformKind;
import dev.wush.quant.transform.Transforms;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;

/** Random quantized layers of real shapes: for speed and memory, the values do not matter. */
final class RandomLayers {

    private RandomLayers() {}

    /**
     * An (out, in) layer with random 4-bit codes and plausible scales. {@code WUSH} gets a different dense
     * d×d matrix per block (what a WUSH layer costs), {@code HADAMARD} one shared matrix, {@code IDENTITY} none.
     */
    static QuantizedLayer layer(int out, int in, QuantFormat format, TransformKind kind, long seed) {
        Random random = new Random(seed);
        byte[] codes = new byte[out * in / 2];
        random.nextBytes(codes);
        int d = format.groupSize();
        int[] scales = new int[out * (in / d)];
        for (int i = 0; i < scales.length; i++) {
            scales[i] = format.scaleBits() == 8 ? 118 + random.nextInt(6) : 0x3C00;
        }
        QuantizedMatrix w = new QuantizedMatrix(format, out, in, codes, scales);
        return new QuantizedLayer("random." + out + "x" + in, format, transform(in, d, kind, random), out, in, w);
    }

    /** Quantizes real weights (out, in) with RTN in the given transform's space (no calibration needed). */
    static QuantizedLayer quantize(String name, float[] weight, int out, int in, QuantFormat format, TransformKind kind) {
        return Rtn.quantize(name, weight, out, in, format, transform(in, format.groupSize(), kind, new Random(0)));
    }

    private static LayerTransform transform(int in, int d, TransformKind kind, Random random) {
        List<BlockTransform> blocks = new ArrayList<>();
        for (int b = 0; b < in / d; b++) {
            if (kind == TransformKind.WUSH) {
                DMatrixRMaj m = new DMatrixRMaj(d, d);
                for (int i = 0; i < d * d; i++) {
                    m.data[i] = random.nextGaussian() / Math.sqrt(d);
                }
                blocks.add(new BlockTransform(m, m)); // the weight side is not used at inference
            } else {
                blocks.add(Transforms.block(kind, b, new DMatrixRMaj(d, d), new DMatrixRMaj(d, d), 0));
            }
        }
        return new LayerTransform(kind, d, blocks);
    }
}
