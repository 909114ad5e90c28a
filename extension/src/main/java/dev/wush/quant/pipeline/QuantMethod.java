package dev.wush.quant.pipeline;

import java.util.Locale;

/** How each linear's weights are rounded. */
public enum QuantMethod {
    RTN,
    GPTQ;

    public static QuantMethod parse(String s) {
        try {
            return valueOf(s.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown method '" + s + "'; known: rtn, gptq");
        }
    }
}
