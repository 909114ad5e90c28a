package dev.wush.quant.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wush.quant.transform.TransformKind;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TransformChoiceTest {

    @Test
    void parsesFixedAndAdaptiveChoices() {
        assertEquals(new TransformChoice.Fixed(TransformKind.WUSH), TransformChoice.parse("wush"));
        TransformChoice.ByKurtosis k = (TransformChoice.ByKurtosis) TransformChoice.parse("adaptive:kurtosis=-0.5");
        assertEquals(-0.5, k.threshold());
        assertEquals(2.0, ((TransformChoice.ByKurtosis) TransformChoice.parse("adaptive:kurtosis")).threshold());
        assertEquals(List.of(TransformKind.IDENTITY, TransformKind.WUSH),
                ((TransformChoice.ByError) TransformChoice.parse("adaptive:error=identity, wush")).candidates());
    }

    /** A NaN threshold compared false everywhere and sent every layer to the cheap transform, silently. */
    @ParameterizedTest
    @ValueSource(strings = {"adaptive:kurtosis=NaN", "adaptive:kurtosis=Infinity", "adaptive:kurtosis=-Infinity",
        "adaptive:kurtosis=", "adaptive:kurtosis=two", "adaptive:error=", "adaptive:error=wush",
        "adaptive:error=wush,wush", "adaptive:error=identity,,wush", "adaptive:error=identity,qr"})
    void rejectsThresholdsAndListsThatCannotChoose(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TransformChoice.parse(text));
        assertTrue(e.getMessage().contains("'"), e.getMessage());
    }
}
