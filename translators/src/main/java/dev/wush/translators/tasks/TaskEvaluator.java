package dev.wush.translators.tasks;

import ai.djl.inference.Predictor;
import ai.djl.translate.TranslateException;
import dev.wush.translators.TextTokenizer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntConsumer;

/**
 * Zero-shot multiple-choice evaluation by log-likelihood, the protocol of EleutherAI's lm-evaluation-harness:
 * each choice's continuation is scored after its context, {@code acc} takes the most likely choice and
 * {@code acc_norm} the most likely per UTF-8 byte of the choice text.
 *
 * <p>Tokenization at the boundary follows the harness: trailing spaces of the context move to the continuation,
 * {@code context + continuation} is encoded whole, and the continuation is what follows the context's own encoding,
 * so that its first token is never merged into the context's last. An empty context becomes BOS; with
 * {@code addBos}, BOS leads every context (the harness's {@code add_bos_token}). Contexts too long for the model lose
 * their oldest tokens, as in the harness.
 */
public final class TaskEvaluator {

    private final TextTokenizer tokenizer;
    private final boolean addBos;
    private final int maxLength;
    private final int batch;

    /**
     * @param maxLength the model's context (max_position_embeddings)
     * @param batch continuations per forward pass, at least 1
     */
    public TaskEvaluator(TextTokenizer tokenizer, boolean addBos, int maxLength, int batch) {
        if (batch < 1) {
            throw new IllegalArgumentException("batch must be at least 1, got " + batch);
        }
        if (maxLength < 2) {
            throw new IllegalArgumentException("maxLength must be at least 2, got " + maxLength);
        }
        this.tokenizer = tokenizer;
        this.addBos = addBos;
        this.maxLength = maxLength;
        this.batch = batch;
    }

    /** Context and continuation token ids of one request, split as the harness splits them. */
    public long[][] encode(TaskItem.Request request) {
        String context = request.context();
        String continuation = request.continuation();
        int trailing = context.length() - context.stripTrailing().length();
        if (trailing > 0) {
            continuation = context.substring(context.length() - trailing) + continuation;
            context = context.substring(0, context.length() - trailing);
        }
        long[] whole = tokenizer.encode(context + continuation);
        long[] ctx = context.isEmpty() ? new long[0] : tokenizer.encode(context);
        long[] cont = Arrays.copyOfRange(whole, Math.min(ctx.length, whole.length), whole.length);
        if (cont.length == 0) {
            throw new IllegalArgumentException("the continuation '" + request.continuation() + "' encodes to no tokens after its context");
        }
        if (addBos || ctx.length == 0) {
            long[] withBos = new long[ctx.length + 1];
            withBos[0] = tokenizer.bosId();
            System.arraycopy(ctx, 0, withBos, 1, ctx.length);
            ctx = withBos;
        }
        return new long[][] {ctx, cont};
    }

    /** Scores every request of {@code items}; {@code done} is told after each item. */
    public List<ChoiceScores> score(Predictor<ContextChoices, ChoiceScores> predictor, List<TaskItem> items, IntConsumer done)
            throws TranslateException {
        List<ChoiceScores> out = new ArrayList<>();
        for (int k = 0; k < items.size(); k++) {
            TaskItem item = items.get(k);
            int n = item.requests().size();
            double[] ll = new double[n];
            boolean[] greedy = new boolean[n];
            // requests that share a context run together: one context pass, the continuations in batches
            Map<String, List<Integer>> byContext = new LinkedHashMap<>();
            long[][][] encoded = new long[n][][];
            for (int i = 0; i < n; i++) {
                encoded[i] = encode(item.requests().get(i));
                byContext.computeIfAbsent(Arrays.toString(encoded[i][0]), key -> new ArrayList<>()).add(i);
            }
            for (List<Integer> group : byContext.values()) {
                for (int from = 0; from < group.size(); from += batch) {
                    List<Integer> part = group.subList(from, Math.min(group.size(), from + batch));
                    long[][] conts = new long[part.size()][];
                    int longest = 0;
                    for (int j = 0; j < part.size(); j++) {
                        conts[j] = encoded[part.get(j)][1];
                        longest = Math.max(longest, conts[j].length);
                    }
                    long[] context = truncate(encoded[part.getFirst()][0], longest);
                    ChoiceScores s = predictor.predict(new ContextChoices(context, conts));
                    for (int j = 0; j < part.size(); j++) {
                        ll[part.get(j)] = s.loglikelihood()[j];
                        greedy[part.get(j)] = s.greedy()[j];
                    }
                }
            }
            out.add(new ChoiceScores(ll, greedy));
            done.accept(k + 1);
        }
        return out;
    }

    /** The context's last tokens, so that context + continuation fit the model; at least one token stays. */
    private long[] truncate(long[] context, int continuation) {
        if (continuation >= maxLength) {
            throw new IllegalArgumentException("a continuation of " + continuation + " tokens does not fit the model's context of "
                    + maxLength);
        }
        int keep = Math.min(context.length, maxLength - continuation);
        return Arrays.copyOfRange(context, context.length - keep, context.length);
    }

    /** The harness's metrics of one task from its items' scores. */
    public static TaskResult metrics(Task task, List<TaskItem> items, List<ChoiceScores> scores) {
        int n = items.size();
        double[] acc = new double[n];
        double[] accNorm = new double[n];
        double[] ll = new double[n];
        for (int k = 0; k < n; k++) {
            TaskItem item = items.get(k);
            ChoiceScores s = scores.get(k);
            if (task.isLoglikelihood()) {
                acc[k] = s.greedy()[0] ? 1 : 0;
                ll[k] = s.loglikelihood()[0];
                continue;
            }
            double[] normed = new double[s.loglikelihood().length];
            for (int i = 0; i < normed.length; i++) {
                normed[i] = s.loglikelihood()[i] / item.choices().get(i).getBytes(StandardCharsets.UTF_8).length;
            }
            acc[k] = argmax(s.loglikelihood()) == item.gold() ? 1 : 0;
            accNorm[k] = argmax(normed) == item.gold() ? 1 : 0;
        }
        double nan = Double.NaN;
        if (task.isLoglikelihood()) {
            double ppl = Math.exp(-mean(ll));
            return new TaskResult(task, n, mean(acc), stderr(acc), nan, nan, ppl, ppl * stderr(ll));
        }
        return new TaskResult(task, n, mean(acc), stderr(acc), task.reportsAccNorm() ? mean(accNorm) : nan,
                task.reportsAccNorm() ? stderr(accNorm) : nan, nan, nan);
    }

    /** The first index of the largest value (numpy's argmax). */
    static int argmax(double[] values) {
        int best = 0;
        for (int i = 1; i < values.length; i++) {
            if (values[i] > values[best]) {
                best = i;
            }
        }
        return best;
    }

    static double mean(double[] x) {
        double s = 0;
        for (double v : x) {
            s += v;
        }
        return s / x.length;
    }

    /** Standard error of the mean with the sample standard deviation (the harness's {@code mean_stderr}); NaN for one item. */
    static double stderr(double[] x) {
        if (x.length < 2) {
            return Double.NaN;
        }
        double m = mean(x);
        double s = 0;
        for (double v : x) {
            s += (v - m) * (v - m);
        }
        return Math.sqrt(s / (x.length - 1) / x.length);
    }
}
