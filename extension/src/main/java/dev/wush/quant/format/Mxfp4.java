package dev.wush.quant.format;

/**
 * MXFP4: groups of 32 E2M1 elements sharing an E8M0 power-of-two scale.
 *
 * <p>{@link Rule#OFFICIAL} (the default, as the official WUSH code): scale {@code 2^floor(log2 amax)}
 * with a constant 1/3 applied at decode, so {@code x / (scale/3)} has AbsMax in [3, 6) and the largest
 * element never clips. {@link Rule#OCP}: the OCP MX rule {@code 2^(floor(log2 amax) − 2)}, AbsMax in
 * [4, 8), which clips the largest elements.
 */
public record Mxfp4(Rule rule) implements E2M1Format {

    /** How the shared exponent is chosen. */
    public enum Rule {
        OFFICIAL,
        OCP
    }

    public static final Mxfp4 DEFAULT = new Mxfp4(Rule.OFFICIAL);

    @Override
    public String name() {
        return rule == Rule.OFFICIAL ? "MXFP4" : "MXFP4-OCP";
    }

    @Override
    public int groupSize() {
        return 32;
    }

    @Override
    public int scaleCodeOfAbsMax(float amax) {
        if (!Float.isFinite(amax)) {
            return E8M0.NAN;
        }
        if (amax == 0) {
            return 0;
        }
        int e = E8M0.floorLog2(amax);
        return E8M0.encodeExponent(rule == Rule.OFFICIAL ? e : e - 2);
    }

    @Override
    public float scaleValue(int scaleCode) {
        float s = E8M0.decode(scaleCode);
        return rule == Rule.OFFICIAL ? s / 3 : s;
    }
}
