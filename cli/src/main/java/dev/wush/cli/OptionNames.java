package dev.wush.cli;

import java.util.Map;

/**
 * The library names what it validates by its Java or Criteria names ({@code maxNewTokens must be at least 1}); the
 * command line says the option the user typed ({@code --max-tokens must be at least 1}).
 */
final class OptionNames {

    private OptionNames() {}

    /** {@code e} with a leading library name replaced by its option; {@code e} itself when none leads its message. */
    static IllegalArgumentException named(IllegalArgumentException e, Map<String, String> options) {
        String message = e.getMessage();
        if (message != null) {
            for (Map.Entry<String, String> o : options.entrySet()) {
                if (message.startsWith(o.getKey() + " ")) {
                    return new IllegalArgumentException(o.getValue() + message.substring(o.getKey().length()), e);
                }
            }
        }
        return e;
    }
}
