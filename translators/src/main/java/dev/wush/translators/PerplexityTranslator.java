package dev.wush.translators;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.TranslatorContext;

/**
 * Scores a batch of token windows with a causal language model block whose first output is the
 * logits (B, L, vocab): returns each window's summed cross-entropy of predicting token t+1 from
 * tokens 0..t, for t = 0..L-2.
 */
public final class PerplexityTranslator implements NoBatchifyTranslator<TokenWindows, WindowLosses> {

    private static final String IDS = "wush.ids";

    @Override
    public NDList processInput(TranslatorContext ctx, TokenWindows input) {
        NDArray ids = ctx.getNDManager().create(input.ids()); // (B, L) int64
        ctx.setAttachment(IDS, ids);
        return new NDList(ids);
    }

    @Override
    public WindowLosses processOutput(TranslatorContext ctx, NDList list) {
        NDArray logits = list.head(); // (B, L, V)
        NDArray ids = (NDArray) ctx.getAttachment(IDS);
        long b = ids.getShape().get(0);
        long l = ids.getShape().get(1);
        NDArray logProbs = logits.get(":, :-1, :").toType(DataType.FLOAT32, false).logSoftmax(-1); // (B, L-1, V)
        NDArray targets = ids.get(":, 1:").reshape(b, l - 1, 1);                                    // (B, L-1, 1)
        NDArray picked = logProbs.gather(targets, 2);                                               // (B, L-1, 1)
        double[] nll = picked.toType(DataType.FLOAT64, false).sum(new int[] {1, 2}).neg().toDoubleArray();
        return new WindowLosses(nll, (int) (l - 1));
    }
}
