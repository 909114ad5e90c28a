package dev.wush.quant.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import dev.wush.calib.Activations;
import dev.wush.nn.BlockPaths;
import dev.wush.quant.block.WushLinear;
import dev.wush.quant.layer.Gptq;
import dev.wush.quant.layer.HessianAccumulator;
import dev.wush.quant.layer.LayerError;
import dev.wush.quant.layer.LayerInput;
import dev.wush.quant.layer.QuantizedLayer;
import dev.wush.quant.layer.Rtn;
import dev.wush.quant.transform.TransformKind;
import java.util.LinkedHashMap;
import java.util.Map;

/** Quantizes one {@code Linear} from its Hessian, picks its transform, and puts a {@link WushLinear} in its place. */
final class LinearQuantizer {

    private final QuantizationConfig config;

    LinearQuantizer(QuantizationConfig config) {
        this.config = config;
    }

    LayerReport quantizeAndReplace(Block root, NDManager manager, NDManager work, String name, Linear linear,
            HessianAccumulator hessian, Activations sample, TransformKind kurtosisKind, String kurtosisReason) {
        Parameter bias = linear.getParameters().get("bias");
        return quantizeAndReplace(root, manager, work, name, weight(linear), bias == null ? null : bias.getArray(), hessian, sample,
                kurtosisKind, kurtosisReason);
    }

    /** As above, for a weight (out, in) and bias (or null) given directly (an LM head read from the checkpoint). */
    LayerReport quantizeAndReplace(Block root, NDManager manager, NDManager work, String name, NDArray w, NDArray biasArray,
            HessianAccumulator hessian, Activations sample, TransformKind kurtosisKind, String kurtosisReason) {
        long start = System.nanoTime();
        int out = (int) w.getShape().get(0);
        int in = (int) w.getShape().get(1);
        float[] weight = w.toType(DataType.FLOAT32, false).toFloatArray();
        int d = config.format().groupSize();
        // GPTQ: the whole Hessian stays on the engine (float32), the transforms read its diagonal blocks
        NDArray engineHessian = hessian.blockSize() == 0 ? hessian.mean(work) : null;
        try {
            LayerInput input = engineHessian == null
                    ? new LayerInput(name, weight, out, in, hessian.hessian(), hessian.blockSize())
                    : new LayerInput(name, weight, out, in, hessian.diagonalBlocks(d), d, engineHessian);
            return quantizeAndReplace(root, manager, work, name, input, biasArray, sample, kurtosisKind, kurtosisReason, start);
        } finally {
            if (engineHessian != null) {
                engineHessian.close();
            }
        }
    }

    private LayerReport quantizeAndReplace(Block root, NDManager manager, NDManager work, String name, LayerInput input,
            NDArray biasArray, Activations sample, TransformKind kurtosisKind, String kurtosisReason, long start) {
        float[] weight = input.weight();
        float[] x = sample.values();
        int rows = sample.rows();
        Map<String, Double> candidates = new LinkedHashMap<>();
        QuantizedLayer chosen;
        String reason;
        switch (config.transform()) {
            case TransformChoice.Fixed f -> {
                chosen = quantize(input, f.kind());
                reason = "fixed";
            }
            case TransformChoice.ByKurtosis k -> {
                chosen = quantize(input, kurtosisKind);
                reason = kurtosisReason;
            }
            case TransformChoice.ByError e -> {
                chosen = null;
                double best = Double.POSITIVE_INFINITY;
                for (TransformKind kind : e.candidates()) {
                    QuantizedLayer q = quantize(input, kind);
                    double err = LayerError.normalized(work, q, x, rows, weight, config.quantizeActivations());
                    candidates.put(kind.label(), err);
                    if (err < best) {
                        best = err;
                        chosen = q;
                    }
                }
                reason = "lowest calibration error of " + candidates.keySet();
            }
        }
        double error = candidates.isEmpty()
                ? LayerError.normalized(work, chosen, x, rows, weight, config.quantizeActivations())
                : candidates.get(chosen.transform().kind().label());
        BlockPaths.replace(root, name, new WushLinear(manager, chosen, config.quantizeActivations(), biasArray));
        return new LayerReport(name, chosen.transform().kind(), reason, error, candidates, (System.nanoTime() - start) / 1e9);
    }

    private QuantizedLayer quantize(LayerInput input, TransformKind kind) {
        return config.method() == QuantMethod.GPTQ
                ? Gptq.quantize(input, config.format(), kind, config.seed())
                : Rtn.quantize(input, config.format(), kind, config.seed());
    }

    /**
     * A Hessian accumulator for this configuration: RTN reads only the diagonal blocks of a group's
     * size, GPTQ the whole matrix.
     */
    static HessianAccumulator accumulator(QuantizationConfig config, NDManager work, int in) {
        return new HessianAccumulator(work, in, config.method() == QuantMethod.RTN ? config.format().groupSize() : 0);
    }

    static NDArray weight(Block linear) {
        return linear.getParameters().get("weight").getArray();
    }
}
