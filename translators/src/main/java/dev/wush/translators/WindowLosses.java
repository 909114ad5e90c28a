package dev.wush.translators;

/**
 * Summed next-token negative log-likelihood of each window of a batch, over positions 1..L-1.
 *
 * @param nll {@code nll[b]} in nats, summed over the {@code predicted} positions of window b
 * @param predictedPerWindow L - 1
 */
public record WindowLosses(double[] nll, int predictedPerWindow) {}
