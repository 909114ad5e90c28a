package dev.wush.kernel;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import dev.wush.quant.format.E2M1;
import java.lang.foreign.MemorySegment;

/**
 * The pure-Java kernels: the fallback where the native library cannot load, and the reference the
 * native ones are tested against. Same layouts and same arithmetic as {@code wush_kernels.c}.
 */
final class JavaFp4Kernels implements Fp4Kernels {

    static final JavaFp4Kernels INSTANCE = new JavaFp4Kernels();

    /** E2M1 magnitudes doubled, by code: the integers the W4A4 product sums exactly. */
    private static final int[] E2M1_X2 = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

    private JavaFp4Kernels() {}

    @Override
    public String name() {
        return "java";
    }

    @Override
    public void transformRows(MemorySegment x, long r0, long r1, int p, int d, MemorySegment tt, long tstride, MemorySegment y) {
        float[] xb = new float[d];
        float[] yb = new float[d];
        for (long r = r0; r < r1; r++) {
            for (int b = 0; b < p / d; b++) {
                long off = r * p + (long) b * d;
                MemorySegment.copy(x, JAVA_FLOAT, off * 4, xb, 0, d);
                transformBlock(xb, tt, b * tstride, d, yb);
                MemorySegment.copy(yb, 0, y, JAVA_FLOAT, off * 4, d);
            }
        }
    }

    /** {@code y = T · x} for one block, summing over j in order with separate multiply and add. */
    private static void transformBlock(float[] x, MemorySegment tt, long tOffset, int d, float[] y) {
        if (tt.equals(MemorySegment.NULL)) {
            System.arraycopy(x, 0, y, 0, d);
            return;
        }
        java.util.Arrays.fill(y, 0f);
        for (int j = 0; j < d; j++) {
            float xj = x[j];
            long row = (tOffset + (long) j * d) * 4;
            for (int k = 0; k < d; k++) {
                float prod = tt.get(JAVA_FLOAT, row + 4L * k) * xj;
                y[k] = y[k] + prod;
            }
        }
    }

    @Override
    public void quantizeRows(MemorySegment x, long r0, long r1, int p, int d, MemorySegment tt, long tstride, Fp4Scales format,
            MemorySegment codes, MemorySegment scales) {
        float[] xb = new float[d];
        float[] yb = new float[d];
        int blocks = p / d;
        for (long r = r0; r < r1; r++) {
            for (int b = 0; b < blocks; b++) {
                long off = r * p + (long) b * d;
                MemorySegment.copy(x, JAVA_FLOAT, off * 4, xb, 0, d);
                transformBlock(xb, tt, b * tstride, d, yb);
                float amax = 0;
                boolean nan = false;
                for (int k = 0; k < d; k++) {
                    float a = Math.abs(yb[k]);
                    nan |= Float.isNaN(a);
                    amax = a > amax ? a : amax;
                }
                int sc = format.format().scaleCodeOfAbsMax(nan ? Float.NaN : amax);
                scales.set(JAVA_BYTE, r * blocks + b, (byte) sc);
                float s = format.values()[sc];
                for (int k = 0; k < d; k += 2) {
                    int c0 = s == 0 ? 0 : E2M1.encode(yb[k] / s);
                    int c1 = s == 0 ? 0 : E2M1.encode(yb[k + 1] / s);
                    codes.set(JAVA_BYTE, (off + k) / 2, (byte) (c0 | c1 << 4));
                }
            }
        }
    }

    @Override
    public void gemmW4A4(MemorySegment aCodes, MemorySegment aScales, int rows, MemorySegment wCodes, MemorySegment wScales,
            long o0, long o1, int p, int d, MemorySegment aScaleValues, MemorySegment wScaleValues, MemorySegment y, long ldy) {
        int blocks = p / d;
        int[][] a = new int[rows][];
        float[][] as = new float[rows][];
        for (int r = 0; r < rows; r++) {
            a[r] = unpack(aCodes, (long) r * p / 2, p);
            as[r] = scaleValues(aScales, (long) r * blocks, blocks, aScaleValues);
        }
        for (long o = o0; o < o1; o++) {
            int[] w = unpackSplit(wCodes, o * (p / 2), p);
            float[] ws = scaleValues(wScales, o * blocks, blocks, wScaleValues);
            for (int r = 0; r < rows; r++) {
                float acc = 0;
                for (int b = 0; b < blocks; b++) {
                    int dot = 0;
                    for (int k = b * d; k < (b + 1) * d; k++) {
                        dot += a[r][k] * w[k];
                    }
                    acc += dot * (as[r][b] * ws[b]);
                }
                y.setAtIndex(JAVA_FLOAT, r * ldy + o, acc * 0.25f);
            }
        }
    }

    @Override
    public void gemvW4A16(MemorySegment x, int rows, MemorySegment wCodes, MemorySegment wScales, long o0, long o1, int p, int d,
            MemorySegment wScaleValues, MemorySegment y, long ldy) {
        int blocks = p / d;
        float[] xr = new float[p];
        for (long o = o0; o < o1; o++) {
            int[] w = unpackSplit(wCodes, o * (p / 2), p);
            float[] ws = scaleValues(wScales, o * blocks, blocks, wScaleValues);
            for (int r = 0; r < rows; r++) {
                MemorySegment.copy(x, JAVA_FLOAT, (long) r * p * 4, xr, 0, p);
                float acc = 0;
                for (int b = 0; b < blocks; b++) {
                    float s = 0;
                    for (int k = b * d; k < (b + 1) * d; k++) {
                        s += xr[k] * w[k];
                    }
                    acc += s * ws[b];
                }
                y.setAtIndex(JAVA_FLOAT, r * ldy + o, acc * 0.5f);
            }
        }
    }

    @Override
    public double streamSum(MemorySegment x, long n) {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        long i = 0;
        for (; i + 4 <= n; i += 4) {
            s0 += x.getAtIndex(JAVA_FLOAT, i);
            s1 += x.getAtIndex(JAVA_FLOAT, i + 1);
            s2 += x.getAtIndex(JAVA_FLOAT, i + 2);
            s3 += x.getAtIndex(JAVA_FLOAT, i + 3);
        }
        double s = (double) s0 + s1 + s2 + s3;
        for (; i < n; i++) {
            s += x.getAtIndex(JAVA_FLOAT, i);
        }
        return s;
    }

    /** Doubled E2M1 values of n packed elements starting at byte {@code offset}. */
    private static int[] unpack(MemorySegment codes, long offset, int n) {
        int[] v = new int[n];
        for (int i = 0; i < n / 2; i++) {
            int b = codes.get(JAVA_BYTE, offset + i) & 0xFF;
            v[2 * i] = E2M1_X2[b & 15];
            v[2 * i + 1] = E2M1_X2[b >>> 4];
        }
        return v;
    }

    /** Doubled E2M1 values of n weight elements in the split-nibble layout ({@link SplitNibbles}). */
    private static int[] unpackSplit(MemorySegment codes, long offset, int n) {
        int[] v = new int[n];
        for (int c = 0; c < n / 32; c++) {
            for (int i = 0; i < 16; i++) {
                int b = codes.get(JAVA_BYTE, offset + 16L * c + i) & 0xFF;
                v[32 * c + i] = E2M1_X2[b & 15];
                v[32 * c + 16 + i] = E2M1_X2[b >>> 4];
            }
        }
        return v;
    }

    private static float[] scaleValues(MemorySegment scaleCodes, long offset, int n, MemorySegment values) {
        float[] s = new float[n];
        for (int i = 0; i < n; i++) {
            s[i] = values.getAtIndex(JAVA_FLOAT, scaleCodes.get(JAVA_BYTE, offset + i) & 0xFF);
        }
        return s;
    }
}
