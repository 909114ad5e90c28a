package dev.wush.quant.pipeline;

import ai.djl.nn.core.Linear;
import dev.wush.nn.BlockPaths;
import dev.wush.quant.transform.TransformKind;
import ai.djl.nn.Block;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Data-free adaptive choice (arXiv 2511.17809): the kurtosis κ of each linear's weights, normalised
 * among the layers of the same kind (all q_proj, all down_proj, …) with the robust z-score
 * {@code z = 0.6745 · (κ − median κ) / MAD}; layers with z above the threshold are outlier-heavy and get
 * the outlier-suited transform, the others the cheap one.
 */
final class KurtosisSelector {

    private KurtosisSelector() {}

    /** Chooses for every path in {@code paths} (linears of {@code root}); the kind is the last path element. */
    static void choose(Block root, List<String> paths, TransformChoice.ByKurtosis rule, Map<String, TransformKind> choice,
            Map<String, String> reason) {
        Map<String, Double> kurtosis = new LinkedHashMap<>();
        for (String path : paths) {
            kurtosis.put(path, kurtosis(((Linear) BlockPaths.find(root, path)).getParameters().get("weight").getArray()));
        }
        choose(kurtosis, rule, choice, reason);
    }

    /** Chooses from the kurtosis of every linear, by path (for weights read one at a time). */
    static void choose(Map<String, Double> kurtosis, TransformChoice.ByKurtosis rule, Map<String, TransformKind> choice,
            Map<String, String> reason) {
        Map<String, List<String>> byKind = new LinkedHashMap<>();
        for (String path : kurtosis.keySet()) {
            String kind = path.substring(path.lastIndexOf('.') + 1).replaceFirst("^\\d+", ""); // SequentialBlock: 02Linear → Linear
            byKind.computeIfAbsent(kind, k -> new ArrayList<>()).add(path);
        }
        for (List<String> sameKind : byKind.values()) {
            double[] k = sameKind.stream().mapToDouble(kurtosis::get).toArray();
            double median = median(k);
            double[] dev = Arrays.stream(k).map(v -> Math.abs(v - median)).toArray();
            double mad = median(dev);
            for (String path : sameKind) {
                double z = mad == 0 ? 0 : 0.6745 * (kurtosis.get(path) - median) / mad;
                boolean outlier = z > rule.threshold();
                choice.put(path, outlier ? rule.outlier() : rule.cheap());
                reason.put(path, String.format(Locale.ROOT, "kurtosis %.2f, robust z %.2f %s %.2f", kurtosis.get(path), z,
                        outlier ? ">" : "≤", rule.threshold()));
            }
        }
    }

    /** Pearson kurtosis {@code E[(w−μ)⁴] / σ⁴} of all weights. */
    static double kurtosis(ai.djl.ndarray.NDArray weight) {
        float[] w;
        if (weight.getDataType() == ai.djl.ndarray.types.DataType.FLOAT32) {
            w = weight.toFloatArray();
        } else {
            try (ai.djl.ndarray.NDArray wide = weight.toType(ai.djl.ndarray.types.DataType.FLOAT32, true)) {
                w = wide.toFloatArray();
            }
        }
        double mean = 0;
        for (float v : w) {
            mean += v;
        }
        mean /= w.length;
        double m2 = 0;
        double m4 = 0;
        for (float v : w) {
            double d = v - mean;
            m2 += d * d;
            m4 += d * d * d * d;
        }
        m2 /= w.length;
        m4 /= w.length;
        return m4 / (m2 * m2);
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
