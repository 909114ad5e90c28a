package dev.wush.it;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * An independent Llama forward pass in double precision, written for the tests: plain loops over
 * float32 weights read straight from {@code model.safetensors}, no DJL, no KV cache. It recomputes
 * the whole sequence for every token, which is fine for the tiny shared models.
 */
final class ReferenceLlama {

    final int dim;
    final int layers;
    final int heads;
    final int kvHeads;
    final int headDim;
    final int hiddenDim;
    final int vocab;
    final double eps;
    final double theta;
    final Map<String, float[]> w = new HashMap<>();

    ReferenceLlama(Path dir) throws IOException {
        JsonObject c = JsonParser.parseString(Files.readString(dir.resolve("config.json"))).getAsJsonObject();
        dim = c.get("hidden_size").getAsInt();
        layers = c.get("num_hidden_layers").getAsInt();
        heads = c.get("num_attention_heads").getAsInt();
        kvHeads = c.get("num_key_value_heads").getAsInt();
        headDim = c.has("head_dim") ? c.get("head_dim").getAsInt() : dim / heads;
        hiddenDim = c.get("intermediate_size").getAsInt();
        vocab = c.get("vocab_size").getAsInt();
        eps = c.get("rms_norm_eps").getAsDouble();
        theta = c.get("rope_theta").getAsDouble();
        readSafetensors(dir.resolve("model.safetensors"));
        if (!w.containsKey("lm_head.weight")) {
            w.put("lm_head.weight", w.get("model.embed_tokens.weight")); // tied
        }
    }

    private void readSafetensors(Path file) throws IOException {
        ByteBuffer all = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        int headerLen = (int) all.getLong(0);
        String header = new String(all.array(), 8, headerLen, StandardCharsets.UTF_8);
        int base = 8 + headerLen;
        for (Map.Entry<String, JsonElement> e : JsonParser.parseString(header).getAsJsonObject().entrySet()) {
            if (e.getKey().equals("__metadata__")) {
                continue;
            }
            JsonObject t = e.getValue().getAsJsonObject();
            if (!t.get("dtype").getAsString().equals("F32")) {
                throw new IOException("reference reads F32 only");
            }
            int begin = t.getAsJsonArray("data_offsets").get(0).getAsInt();
            int end = t.getAsJsonArray("data_offsets").get(1).getAsInt();
            float[] v = new float[(end - begin) / 4];
            all.slice(base + begin, end - begin).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
            w.put(e.getKey(), v);
        }
    }

    /** Logits (vocab) of the next token after {@code ids}. */
    double[] nextLogits(long[] ids) {
        int t = ids.length;
        double[][] x = new double[t][dim];
        float[] emb = w.get("model.embed_tokens.weight");
        for (int i = 0; i < t; i++) {
            for (int j = 0; j < dim; j++) {
                x[i][j] = emb[(int) ids[i] * dim + j];
            }
        }
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            double[][] h = new double[t][];
            for (int i = 0; i < t; i++) {
                h[i] = rmsnorm(x[i], w.get(p + "input_layernorm.weight"));
            }
            double[][] q = new double[t][];
            double[][] k = new double[t][];
            double[][] v = new double[t][];
            for (int i = 0; i < t; i++) {
                q[i] = rope(matvec(w.get(p + "self_attn.q_proj.weight"), h[i], heads * headDim), i, heads);
                k[i] = rope(matvec(w.get(p + "self_attn.k_proj.weight"), h[i], kvHeads * headDim), i, kvHeads);
                v[i] = matvec(w.get(p + "self_attn.v_proj.weight"), h[i], kvHeads * headDim);
            }
            int group = heads / kvHeads;
            for (int i = 0; i < t; i++) {
                double[] ctx = new double[heads * headDim];
                for (int hd = 0; hd < heads; hd++) {
                    int kv = hd / group;
                    double[] score = new double[i + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= i; j++) {
                        double s = 0;
                        for (int d = 0; d < headDim; d++) {
                            s += q[i][hd * headDim + d] * k[j][kv * headDim + d];
                        }
                        score[j] = s / Math.sqrt(headDim);
                        max = Math.max(max, score[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j <= i; j++) {
                        score[j] = Math.exp(score[j] - max);
                        sum += score[j];
                    }
                    for (int j = 0; j <= i; j++) {
                        for (int d = 0; d < headDim; d++) {
                            ctx[hd * headDim + d] += score[j] / sum * v[j][kv * headDim + d];
                        }
                    }
                }
                double[] o = matvec(w.get(p + "self_attn.o_proj.weight"), ctx, dim);
                for (int j = 0; j < dim; j++) {
                    x[i][j] += o[j];
                }
            }
            for (int i = 0; i < t; i++) {
                double[] n = rmsnorm(x[i], w.get(p + "post_attention_layernorm.weight"));
                double[] gate = matvec(w.get(p + "mlp.gate_proj.weight"), n, hiddenDim);
                double[] up = matvec(w.get(p + "mlp.up_proj.weight"), n, hiddenDim);
                for (int j = 0; j < hiddenDim; j++) {
                    gate[j] = gate[j] / (1 + Math.exp(-gate[j])) * up[j];
                }
                double[] down = matvec(w.get(p + "mlp.down_proj.weight"), gate, dim);
                for (int j = 0; j < dim; j++) {
                    x[i][j] += down[j];
                }
            }
        }
        double[] last = rmsnorm(x[t - 1], w.get("model.norm.weight"));
        return matvec(w.get("lm_head.weight"), last, vocab);
    }

    /** Greedy continuation of {@code prompt}: up to {@code max} tokens, stopping at {@code eos}. */
    long[] greedy(long[] prompt, int max, long eos) {
        long[] seq = java.util.Arrays.copyOf(prompt, prompt.length + max);
        int n = prompt.length;
        for (int s = 0; s < max; s++) {
            double[] logits = nextLogits(java.util.Arrays.copyOf(seq, n));
            int best = 0;
            for (int i = 1; i < logits.length; i++) {
                if (logits[i] > logits[best]) {
                    best = i;
                }
            }
            if (best == eos) {
                break;
            }
            seq[n++] = best;
        }
        return java.util.Arrays.copyOfRange(seq, prompt.length, n);
    }

    private double[] rmsnorm(double[] x, float[] weight) {
        double ss = 0;
        for (double v : x) {
            ss += v * v;
        }
        double inv = 1 / Math.sqrt(ss / x.length + eps);
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i] * inv * weight[i];
        }
        return out;
    }

    /** Rotate-half RoPE: in each head, dimension i pairs with i + headDim/2. */
    private double[] rope(double[] x, int pos, int nHeads) {
        int half = headDim / 2;
        double[] out = x.clone();
        for (int h = 0; h < nHeads; h++) {
            for (int i = 0; i < half; i++) {
                double angle = pos * Math.pow(theta, -2.0 * i / headDim);
                double c = Math.cos(angle);
                double s = Math.sin(angle);
                double a = x[h * headDim + i];
                double b = x[h * headDim + i + half];
                out[h * headDim + i] = a * c - b * s;
                out[h * headDim + i + half] = b * c + a * s;
            }
        }
        return out;
    }

    /** (rows, cols) row-major weight times x (cols). */
    private static double[] matvec(float[] weight, double[] x, int rows) {
        int cols = x.length;
        double[] out = new double[rows];
        for (int r = 0; r < rows; r++) {
            double s = 0;
            for (int c = 0; c < cols; c++) {
                s += weight[r * cols + c] * x[c];
            }
            out[r] = s;
        }
        return out;
    }
}
