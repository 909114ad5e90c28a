package dev.wush.calib;

import ai.djl.ndarray.NDArray;
import java.util.Arrays;

/** Rows of a layer's inputs gathered from many batches, (rows, features) row-major float32. */
public final class Activations {

    private final int features;
    private float[] data = new float[0];
    private int rows;

    public Activations(int features) {
        this.features = features;
    }

    /** Appends the rows of {@code x} (…, features). */
    public void add(NDArray x) {
        float[] values = x.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
        if (values.length % features != 0) {
            throw new IllegalArgumentException("expected inputs with " + features + " features, got " + x.getShape());
        }
        int added = values.length / features;
        if ((long) (rows + added) * features > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("more calibration activations than one Java array holds; use fewer windows");
        }
        if ((rows + added) * features > data.length) {
            data = Arrays.copyOf(data, Math.max((rows + added) * features, data.length * 2));
        }
        System.arraycopy(values, 0, data, rows * features, values.length);
        rows += added;
    }

    /** Appends rows of {@code x} until {@code maxRows} rows are held (a sample for measuring errors). */
    public void addUpTo(NDArray x, int maxRows) {
        if (rows >= maxRows) {
            return;
        }
        long available = x.getShape().size() / features;
        long take = Math.min(available, maxRows - rows);
        add(take == available ? x : x.reshape(available, features).get("0:" + take + ", :"));
    }

    public int rows() {
        return rows;
    }

    public int features() {
        return features;
    }

    /** The gathered rows, (rows, features). */
    public float[] values() {
        return rows * features == data.length ? data : Arrays.copyOf(data, rows * features);
    }
}
