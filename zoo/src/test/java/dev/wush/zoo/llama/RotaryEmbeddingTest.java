package dev.wush.zoo.llama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class RotaryEmbeddingTest {

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
    void llama31ScalingKeepsHighFrequenciesDividesLowOnesAndBlendsBetween() {
        LlamaConfig.Llama3RopeScaling s = new LlamaConfig.Llama3RopeScaling(8, 1, 4, 8192);
        float[] plain = RotaryEmbedding.inverseFrequencies(128, 500000, null);
        float[] scaled = RotaryEmbedding.inverseFrequencies(128, 500000, s);
        int kept = 0;
        int divided = 0;
        int blended = 0;
        for (int i = 0; i < plain.length; i++) {
            double wavelen = 2 * Math.PI / plain[i];
            if (wavelen < 8192 / 4.0) { // shorter than the high-frequency wavelength: untouched
                assertEquals(plain[i], scaled[i], 0f);
                kept++;
            } else if (wavelen > 8192 / 1.0) { // longer than the low-frequency wavelength: divided by the factor
                assertEquals(plain[i] / 8, scaled[i], plain[i] * 1e-6);
                divided++;
            } else { // in between: strictly between the two
                assertTrue(scaled[i] < plain[i] && scaled[i] > plain[i] / 8, "index " + i);
                blended++;
            }
            if (i > 0) {
                assertTrue(scaled[i] < scaled[i - 1], "frequencies decrease");
            }
        }
        assertTrue(kept > 0 && divided > 0 && blended > 0, kept + " " + divided + " " + blended);
    }
}
