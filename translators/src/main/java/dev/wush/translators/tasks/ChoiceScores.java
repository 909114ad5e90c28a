package dev.wush.translators.tasks;

/**
 * What the model says of each continuation after a context.
 *
 * @param loglikelihood {@code log P(continuation | context)}, summed over its tokens, in nats
 * @param greedy whether every token of the continuation is the model's most likely next token
 */
public record ChoiceScores(double[] loglikelihood, boolean[] greedy) {}
