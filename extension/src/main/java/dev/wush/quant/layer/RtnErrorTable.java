package dev.wush.quant.layer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.wush.quant.format.QuantFormat;
import dev.wush.quant.transform.TransformKind;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The paper's Table 1 for one linear layer: its normalised W4A4 RTN output error under every format ×
 * transform, on the layer's own calibration inputs.
 */
public final class RtnErrorTable {

    private RtnErrorTable() {}

    /** Column label of a format and transform, e.g. {@code MXFP4/wush}. */
    public static String label(QuantFormat format, TransformKind kind) {
        return format.name() + "/" + kind.label();
    }

    /**
     * @param x the layer's inputs (rows, in)
     * @param weight the layer's weight (out, in)
     * @return error by {@link #label}, in the order formats × transforms
     */
    public static Map<String, Double> errors(NDManager manager, String name, float[] weight, int out, int in,
            float[] x, int rows, List<QuantFormat> formats, List<TransformKind> kinds, long seed, Runnable onEach) {
        Map<Integer, LayerInput> byGroup = new HashMap<>(); // RTN reads the Hessian's diagonal blocks of the group size only
        Map<String, Double> errors = new LinkedHashMap<>();
        for (QuantFormat format : formats) {
            LayerInput layer = byGroup.computeIfAbsent(format.groupSize(), d -> layerInput(manager, name, weight, out, in, x, rows, d));
            for (TransformKind kind : kinds) {
                QuantizedLayer q = Rtn.quantize(layer, format, kind, seed);
                errors.put(label(format, kind), LayerError.normalized(manager, q, x, rows, weight, true));
                onEach.run();
            }
        }
        return errors;
    }

    /**
     * The layer with the diagonal d×d blocks of its Hessian {@code XᵀX/n} over the inputs x (rows, in): all that
     * RTN and the transforms read.
     */
    public static LayerInput layerInput(NDManager manager, String name, float[] weight, int out, int in, float[] x, int rows,
            int d) {
        try (HessianAccumulator acc = new HessianAccumulator(manager, in, d); NDArray xs = manager.create(x, new Shape(rows, in))) {
            acc.add(xs);
            return new LayerInput(name, weight, out, in, acc.hessian(), d);
        }
    }
}
