package dev.wush.translators.tasks;

/**
 * A task's scores, as the harness reports them: mean and standard error of the mean.
 *
 * @param accNorm NaN when the harness does not report it for the task
 * @param perplexity LAMBADA's {@code exp(−mean log-likelihood)} of the last word; NaN for the other tasks
 * @param perplexityStderr its standard error by the delta method ({@code ppl · stderr(ll)}); the harness bootstraps
 */
public record TaskResult(Task task, int items, double acc, double accStderr, double accNorm, double accNormStderr,
        double perplexity, double perplexityStderr) {}
