package dev.wush.zoo.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Rotary position embedding in the Hugging Face layout (rotate-half: the first and second halves of
 * each head are the two coordinates of a rotation), with optional Llama 3.1 frequency scaling.
 */
public final class RotaryEmbedding {

    private final int headDim;
    private final float[] invFreq; // (headDim / 2)

    public RotaryEmbedding(LlamaConfig config) {
        this.headDim = config.headDim();
        this.invFreq = inverseFrequencies(config.headDim(), config.ropeTheta(), config.ropeScaling());
    }

    /** {@code 1 / theta^(2i/d)}, rescaled per Llama 3.1 when {@code scaling} is set; float32 like transformers. */
    static float[] inverseFrequencies(int dim, double theta, LlamaConfig.Llama3RopeScaling scaling) {
        float[] inv = new float[dim / 2];
        for (int i = 0; i < inv.length; i++) {
            float exponent = (float) (2 * i) / (float) dim;
            inv[i] = (float) (1.0 / (float) Math.pow(theta, exponent));
        }
        if (scaling == null) {
            return inv;
        }
        double oldContext = scaling.originalMaxPositionEmbeddings();
        double lowFreqWavelen = oldContext / scaling.lowFreqFactor();
        double highFreqWavelen = oldContext / scaling.highFreqFactor();
        for (int i = 0; i < inv.length; i++) {
            double f = inv[i];
            double wavelen = 2 * Math.PI / f;
            if (wavelen > lowFreqWavelen) {
                f = f / scaling.factor(); // long wavelengths: fully interpolated
            } else if (wavelen >= highFreqWavelen) { // medium: blend between the two
                double smooth = (oldContext / wavelen - scaling.lowFreqFactor())
                        / (scaling.highFreqFactor() - scaling.lowFreqFactor());
                f = (1 - smooth) * f / scaling.factor() + smooth * f;
            }
            inv[i] = (float) f;
        }
        return inv;
    }

    /** The inverse frequencies, a copy. */
    public float[] inverseFrequencies() {
        return invFreq.clone();
    }

    /**
     * Cosine and sine tables for positions {@code start .. start+length-1}, each (length, headDim),
     * in {@code dtype}.
     */
    public NDList cosSin(NDManager manager, long start, int length, DataType dtype) {
        NDArray positions = manager.arange(start, start + length, 1, DataType.INT64)
                .toType(DataType.FLOAT32, false)
                .reshape(length, 1);
        NDArray freqs = positions.mul(manager.create(invFreq, new Shape(1, invFreq.length))); // (T, D/2)
        NDArray emb = freqs.concat(freqs, 1); // (T, D)
        NDArray cos = emb.cos().toType(dtype, false);
        NDArray sin = emb.sin().toType(dtype, false);
        return new NDList(cos, sin);
    }

    /** Applies the rotation to x (..., T, headDim) with tables (T, headDim). */
    public NDArray apply(NDArray x, NDArray cos, NDArray sin) {
        int half = headDim / 2;
        NDArray x1 = x.get("..., :" + half);
        NDArray x2 = x.get("..., " + half + ":");
        NDArray rotated = x2.neg().concat(x1, -1);
        return x.mul(cos).add(rotated.mul(sin));
    }
}
