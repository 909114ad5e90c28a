package dev.wush.quant.format;

/**
 * INT4, the analysis format: groups of 32 symmetric integers −8..7 with a bfloat16 scale
 * {@code clip / 7}. {@link Clipping#ABSMAX} clips at the group's AbsMax; {@link Clipping#GAUSSIAN_MSE}
 * at {@code min(AbsMax, α·rms)} where α minimises the mean squared error of quantizing a standard
 * Gaussian with this grid ({@link #GAUSSIAN_ALPHA}, found numerically). The Gaussian variant assumes
 * what a good rotation produces; on groups of 32 the sample rms is noisy, and on Gaussian groups it
 * measures within a few percent of AbsMax rather than below it.
 */
public record Int4(Clipping clipping) implements QuantFormat {

    /** How the clipping range of a group is chosen. */
    public enum Clipping {
        ABSMAX,
        GAUSSIAN_MSE
    }

    public static final Int4 ABSMAX = new Int4(Clipping.ABSMAX);
    public static final Int4 GAUSSIAN = new Int4(Clipping.GAUSSIAN_MSE);

    /** MSE-optimal clipping of N(0, 1) for the symmetric 15-level grid, in standard deviations. */
    public static final double GAUSSIAN_ALPHA = optimalGaussianClip();

    @Override
    public String name() {
        return clipping == Clipping.ABSMAX ? "INT4" : "INT4-MSE";
    }

    @Override
    public int groupSize() {
        return 32;
    }

    @Override
    public int scaleBits() {
        return 16;
    }

    @Override
    public int scaleCode(float[] x, int offset, int length) {
        float amax = QuantFormat.absMax(x, offset, length);
        if (!Float.isFinite(amax)) {
            return Bf16.encode(Float.NaN);
        }
        float clip = amax;
        if (clipping == Clipping.GAUSSIAN_MSE) {
            double ss = 0;
            for (int i = offset; i < offset + length; i++) {
                ss += (double) x[i] * x[i];
            }
            clip = (float) Math.min(amax, GAUSSIAN_ALPHA * Math.sqrt(ss / length));
        }
        return Bf16.encode(clip / 7);
    }

    @Override
    public float scaleValue(int scaleCode) {
        return Bf16.decode(scaleCode);
    }

    @Override
    public int encode(float x, float scale) {
        if (scale == 0) {
            return 0;
        }
        return (int) Math.clamp(Math.rint(x / scale), -8, 7) & 0xF;
    }

    @Override
    public float decode(int code, float scale) {
        int q = (code & 8) != 0 ? code - 16 : code;
        return q * scale;
    }

    /** Golden-section search of the clip α minimising E[(x − q_α(x))²], x ~ N(0, 1). */
    private static double optimalGaussianClip() {
        double lo = 1;
        double hi = 5;
        double phi = (Math.sqrt(5) - 1) / 2;
        for (int i = 0; i < 80; i++) {
            double a = hi - phi * (hi - lo);
            double b = lo + phi * (hi - lo);
            if (gaussianMse(a) < gaussianMse(b)) {
                hi = b;
            } else {
                lo = a;
            }
        }
        return (lo + hi) / 2;
    }

    /** Expected squared error for N(0,1) with step α/7, levels −8..7 (Simpson's rule on [−10, 10]). */
    public static double gaussianMse(double alpha) {
        double step = alpha / 7;
        int n = 20000;
        double h = 20.0 / n;
        double sum = 0;
        for (int i = 0; i <= n; i++) {
            double x = -10 + i * h;
            double q = Math.clamp(Math.rint(x / step), -8, 7) * step;
            double f = (x - q) * (x - q) * Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI);
            sum += f * (i == 0 || i == n ? 1 : (i % 2 == 1 ? 4 : 2));
        }
        return sum * h / 3;
    }
}
