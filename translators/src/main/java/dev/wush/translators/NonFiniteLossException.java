package dev.wush.translators;

/**
 * The model scored a window as NaN or infinitely unlikely. The weights loaded by this library are
 * checked to be finite, so this points at an activation that overflowed (float16 arithmetic, or a
 * weight set by hand); the message names the window and its first token.
 */
public final class NonFiniteLossException extends ArithmeticException {

    private static final long serialVersionUID = 1L;

    private final int window;

    public NonFiniteLossException(int window, long firstToken, double loss) {
        super("the model's log-likelihood of window " + window + " (tokens " + firstToken + "…) is " + loss
                + "; with finite weights (this library's loaders check them) an activation overflowed"
                + " (with float16 weights, load as float32)");
        this.window = window;
    }

    /** Index of the first window whose loss is not finite. */
    public int window() {
        return window;
    }
}
