package dev.wush.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wush.quant.pipeline.HiddenPrecision;
import org.junit.jupiter.api.Test;

/**
 * Calibration hidden states held in 16 bits (the memory option of a large model's streaming run) on a
 * real model: stories260K, MXFP4, RTN + WUSH — the cell whose transforms depend most on the
 * calibration statistics. Each 16-bit run lands within {@value #BOUND_PERCENT}% of the float32 run's
 * perplexity; docs/results.md gives all 24 cells. The float32 run is shared with QuantizedPerplexityTest
 * when both run in one JVM.
 */
class CalibrationHiddenPrecisionTest {

    static final double BOUND_PERCENT = 1.0;

    @Test
    void sixteenBitHiddenStatesBarelyMoveThePerplexity() throws Exception {
        double full = QuantizedPerplexityTest.measured("stories260K", "mxfp4", "rtn", "wush", HiddenPrecision.FLOAT32);
        for (HiddenPrecision p : new HiddenPrecision[] {HiddenPrecision.BFLOAT16, HiddenPrecision.FLOAT16}) {
            double ppl = QuantizedPerplexityTest.measured("stories260K", "mxfp4", "rtn", "wush", p);
            double change = 100 * (ppl - full) / full;
            System.out.printf("stories260K mxfp4 rtn wush: hidden float32 %.4f, %s %.4f (%+.3f%%)%n", full, p.label(), ppl, change);
            assertTrue(Math.abs(change) <= BOUND_PERCENT, p.label() + ": " + ppl + " vs float32 " + full + " (" + change + "%)");
        }
    }
}
