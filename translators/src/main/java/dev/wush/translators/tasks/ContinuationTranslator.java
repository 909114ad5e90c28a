package dev.wush.translators.tasks;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.TranslatorContext;

/**
 * Log-likelihoods of continuations after a shared context, for a causal language model block with a key/value cache
 * (input {@code [ids (B, T), cache…]}, output {@code [logits (B, T, vocab), cache…]}). The context runs once; its cache
 * is repeated for the continuations, which run together, right-padded to the longest (padding comes after every real
 * token, so causal attention keeps it out of their logits).
 */
public final class ContinuationTranslator implements NoBatchifyTranslator<ContextChoices, ChoiceScores> {

    private static final String INPUT = "wush.choices";

    @Override
    public NDList processInput(TranslatorContext ctx, ContextChoices input) {
        ctx.setAttachment(INPUT, input);
        return new NDList(ctx.getNDManager().create(new long[][] {input.context()})); // (1, n)
    }

    @Override
    public ChoiceScores processOutput(TranslatorContext ctx, NDList contextOut) {
        ContextChoices input = (ContextChoices) ctx.getAttachment(INPUT);
        long[][] conts = input.continuations();
        int b = conts.length;
        int longest = 0;
        for (long[] c : conts) {
            longest = Math.max(longest, c.length);
        }
        long[][] ids = new long[b][longest];
        for (int i = 0; i < b; i++) {
            System.arraycopy(conts[i], 0, ids[i], 0, conts[i].length);
            for (int j = conts[i].length; j < longest; j++) {
                ids[i][j] = conts[i][conts[i].length - 1]; // padding: after the real tokens, never read
            }
        }
        int n = input.context().length;
        // the last context position predicts each continuation's first token
        float[] first = logSoftmax(contextOut.head().get("0, " + (n - 1) + ", :"));
        NDList in = new NDList(ctx.getNDManager().create(ids)); // (B, m)
        for (NDArray cache : contextOut.subNDList(1)) {
            NDArray repeated = cache.repeat(0, b); // (1, kv, n, d) → (B, kv, n, d)
            repeated.setName(cache.getName());
            in.add(repeated);
        }
        Block block = ctx.getBlock();
        NDArray logits = block.forward(new ParameterStore(ctx.getNDManager(), false), in, false).head(); // (B, m, V)
        NDArray logProbs = logits.toType(DataType.FLOAT32, false).logSoftmax(-1);
        double[] ll = new double[b];
        boolean[] greedy = new boolean[b];
        for (int i = 0; i < b; i++) {
            ll[i] = first[(int) conts[i][0]];
            greedy[i] = argmax(first) == conts[i][0];
            if (conts[i].length > 1) {
                float[][] rows = rows(logProbs.get(i + ", 0:" + (conts[i].length - 1) + ", :"));
                for (int j = 1; j < conts[i].length; j++) {
                    float[] row = rows[j - 1]; // position j-1 predicts token j
                    ll[i] += row[(int) conts[i][j]];
                    greedy[i] &= argmax(row) == conts[i][j];
                }
            }
        }
        return new ChoiceScores(ll, greedy);
    }

    private static float[] logSoftmax(NDArray logits) {
        return logits.toType(DataType.FLOAT32, false).logSoftmax(-1).toFloatArray();
    }

    private static float[][] rows(NDArray matrix) {
        int r = (int) matrix.getShape().get(0);
        int v = (int) matrix.getShape().get(1);
        float[] flat = matrix.toFloatArray();
        float[][] out = new float[r][];
        for (int i = 0; i < r; i++) {
            out[i] = java.util.Arrays.copyOfRange(flat, i * v, (i + 1) * v);
        }
        return out;
    }

    /** The first index of the largest value, as {@code argmax} picks it. */
    static int argmax(float[] values) {
        int best = 0;
        for (int i = 1; i < values.length; i++) {
            if (values[i] > values[best]) {
                best = i;
            }
        }
        return best;
    }
}
