package dev.wush.zoo.llama;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.Test;

/**
 * Checks the rotary tables against values computed here, in double precision, from the published
 * Llama 3.1 formula (Meta's {@code apply_scaling} in llama-models, and transformers'
 * {@code _compute_llama3_parameters}):
 *
 * <pre>
 *   inv[i]   = theta^(-2i/d)                         i = 0 .. d/2-1
 *   wavelen  = 2 pi / inv[i]
 *   wavelen &lt; ctx / high:  inv[i]                           (high frequencies kept)
 *   wavelen &gt; ctx / low:   inv[i] / factor                  (low frequencies interpolated)
 *   otherwise:             (1 - s) inv[i] / factor + s inv[i],  s = (ctx / wavelen - low) / (high - low)
 * </pre>
 *
 * <p>Tolerances: the implementation computes like transformers, in float32 (exponent {@code 2i/d}
 * rounded to float, then {@code pow}, then the blend rounded to float). A float exponent is off by at
 * most 2^-24 relative, which {@code ln(500000) = 13.1} turns into 13.1 × 2^-24 = 7.8e-7 of the
 * frequency; the two float roundings after it add 2 × 2^-24. So every frequency must be within
 * {@link #FREQUENCY_TOLERANCE} = 1e-6 relative of the double value. An angle {@code p · inv} is then
 * within {@code p · inv · (1e-6 + 2^-24)} (the product is rounded to float too), and its cos and sin
 * within that plus one float32 rounding of the result.
 */
class RotaryEmbeddingTest {

    private static final double FREQUENCY_TOLERANCE = 1e-6;
    private static final double FLOAT_EPS = Math.ulp(1.0f) / 2; // 2^-24, unit roundoff of float32

    /** Llama-3.2-1B's config.json, as published (head dim 64, rope factor 32). */
    static final String LLAMA32_1B = """
            {"architectures": ["LlamaForCausalLM"], "attention_bias": false, "bos_token_id": 128000,
             "eos_token_id": 128001, "head_dim": 64, "hidden_act": "silu", "hidden_size": 2048,
             "intermediate_size": 8192, "max_position_embeddings": 131072, "mlp_bias": false,
             "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 16,
             "num_key_value_heads": 8, "rms_norm_eps": 1e-05,
             "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                              "original_max_position_embeddings": 8192, "rope_type": "llama3"},
             "rope_theta": 500000.0, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
             "vocab_size": 128256}
            """;

    /** Llama-3.2-3B's config.json, as published (head dim 128, rope factor 32). */
    static final String LLAMA32_3B = """
            {"architectures": ["LlamaForCausalLM"], "attention_bias": false, "bos_token_id": 128000,
             "eos_token_id": 128001, "head_dim": 128, "hidden_act": "silu", "hidden_size": 3072,
             "intermediate_size": 8192, "max_position_embeddings": 131072, "mlp_bias": false,
             "model_type": "llama", "num_attention_heads": 24, "num_hidden_layers": 28,
             "num_key_value_heads": 8, "rms_norm_eps": 1e-05,
             "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                              "original_max_position_embeddings": 8192, "rope_type": "llama3"},
             "rope_theta": 500000.0, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
             "vocab_size": 128256}
            """;

    /** Positions: the first two, both sides of the original 8192 context, and the last of 131072. */
    private static final long[] POSITIONS = {0, 1, 2047, 8191, 8192, 65536, 131071};

    @Test
    void plainFrequencies() {
        float[] inv = RotaryEmbedding.inverseFrequencies(8, 10000, null);
        assertEquals(4, inv.length);
        assertEquals(1.0f, inv[0]);
        assertEquals(0.1f, inv[1], 1e-7);   // 10000^(-2/8)
        assertEquals(0.01f, inv[2], 1e-8);  // 10000^(-4/8)
        assertEquals(0.001f, inv[3], 1e-9); // 10000^(-6/8)
    }

    @Test
    void llama31EightB() {
        LlamaConfig config = parse(LlamaConfigTest.LLAMA31_8B);
        assertEquals(new LlamaConfig.Llama3RopeScaling(8, 1, 4, 8192), config.ropeScaling());
        // 128-dim heads, theta 500000: wavelengths 2 pi · 500000^(2i/128). Below 2048 (high-frequency
        // wavelength 8192/4) for i <= 28, above 8192 for i >= 35, blended for i = 29 .. 34.
        checkAgainstDoubleReference(config, 29, 6, 29);
    }

    @Test
    void llama32OneB() {
        LlamaConfig config = parse(LLAMA32_1B);
        assertEquals(new LlamaConfig.Llama3RopeScaling(32, 1, 4, 8192), config.ropeScaling());
        assertEquals(64, config.headDim());
        checkAgainstDoubleReference(config, 15, 3, 14); // i <= 14 kept, 15 .. 17 blended, >= 18 divided
    }

    @Test
    void llama32ThreeB() {
        LlamaConfig config = parse(LLAMA32_3B);
        assertEquals(new LlamaConfig.Llama3RopeScaling(32, 1, 4, 8192), config.ropeScaling());
        assertEquals(128, config.headDim());
        checkAgainstDoubleReference(config, 29, 6, 29);
    }

    @Test
    void referenceFormulaMatchesPublishedEndPoints() {
        // Independent anchors for the reference itself: the first frequency is 1 in every model; the
        // last of Llama-3.1-8B is 500000^(-126/128) / 8.
        LlamaConfig.Llama3RopeScaling s = new LlamaConfig.Llama3RopeScaling(8, 1, 4, 8192);
        double[] ref = referenceInverseFrequencies(128, 500000, s);
        assertEquals(1.0, ref[0], 0.0);
        assertEquals(Math.exp(-126.0 / 128 * Math.log(500000)) / 8, ref[63], ref[63] * 1e-14);
        // The blend is continuous at both ends: s = 0 gives inv / factor, s = 1 gives inv.
        assertEquals(1.0 / 8, blend(1.0, 8192 / 1.0, s), 1e-15);
        assertEquals(1.0, blend(1.0, 8192 / 4.0, s), 1e-15);
    }

    private static void checkAgainstDoubleReference(LlamaConfig config, int kept, int blended, int divided) {
        int dim = config.headDim();
        LlamaConfig.Llama3RopeScaling s = config.ropeScaling();
        double[] ref = referenceInverseFrequencies(dim, config.ropeTheta(), s);
        float[] actual = new RotaryEmbedding(config).inverseFrequencies();
        assertEquals(dim / 2, actual.length);

        int[] regions = new int[3];
        for (int i = 0; i < ref.length; i++) {
            double plain = Math.pow(config.ropeTheta(), -2.0 * i / dim);
            double wavelen = 2 * Math.PI / plain;
            double highWavelen = s.originalMaxPositionEmbeddings() / s.highFreqFactor();
            double lowWavelen = s.originalMaxPositionEmbeddings() / s.lowFreqFactor();
            // No wavelength sits so close to a boundary that float rounding could move it across.
            assertTrue(Math.abs(wavelen / highWavelen - 1) > 1e-4 && Math.abs(wavelen / lowWavelen - 1) > 1e-4,
                    "index " + i + " is on a region boundary");
            regions[wavelen < highWavelen ? 0 : wavelen > lowWavelen ? 2 : 1]++;
            assertEquals(ref[i], actual[i], ref[i] * FREQUENCY_TOLERANCE, "inverse frequency " + i);
        }
        assertArrayEquals(new int[] {kept, blended, divided}, regions, "kept, blended, divided");

        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            for (long p : POSITIONS) {
                NDList cs = new RotaryEmbedding(config).cosSin(manager, p, 1, DataType.FLOAT32);
                assertEquals(new Shape(1, dim), cs.get(0).getShape());
                float[] cos = cs.get(0).toFloatArray();
                float[] sin = cs.get(1).toFloatArray();
                for (int j = 0; j < dim; j++) {
                    double angle = p * ref[j % (dim / 2)]; // rotate-half: both halves share a frequency
                    double tolerance = angle * (FREQUENCY_TOLERANCE + FLOAT_EPS) + 2 * FLOAT_EPS;
                    assertEquals(Math.cos(angle), cos[j], tolerance, "cos, position " + p + ", column " + j);
                    assertEquals(Math.sin(angle), sin[j], tolerance, "sin, position " + p + ", column " + j);
                }
            }
        }
    }

    /** The published formula, in double precision throughout. */
    static double[] referenceInverseFrequencies(int dim, double theta, LlamaConfig.Llama3RopeScaling s) {
        double[] inv = new double[dim / 2];
        for (int i = 0; i < inv.length; i++) {
            double plain = Math.pow(theta, -2.0 * i / dim);
            inv[i] = blend(plain, 2 * Math.PI / plain, s);
        }
        return inv;
    }

    private static double blend(double inv, double wavelen, LlamaConfig.Llama3RopeScaling s) {
        double ctx = s.originalMaxPositionEmbeddings();
        if (wavelen < ctx / s.highFreqFactor()) {
            return inv;
        }
        if (wavelen > ctx / s.lowFreqFactor()) {
            return inv / s.factor();
        }
        double smooth = (ctx / wavelen - s.lowFreqFactor()) / (s.highFreqFactor() - s.lowFreqFactor());
        return (1 - smooth) * inv / s.factor() + smooth * inv;
    }

    private static LlamaConfig parse(String json) {
        return LlamaConfig.parse(JsonParser.parseString(json).getAsJsonObject(), "config.json");
    }
}
