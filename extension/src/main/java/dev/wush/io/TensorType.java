package dev.wush.io;

import ai.djl.ndarray.types.DataType;

/** Element types of the safetensors format that this library reads and writes. */
public enum TensorType {
    F32(4, DataType.FLOAT32),
    F16(2, DataType.FLOAT16),
    BF16(2, DataType.BFLOAT16),
    F64(8, DataType.FLOAT64),
    I64(8, DataType.INT64),
    I32(4, DataType.INT32),
    U8(1, DataType.UINT8),
    I8(1, DataType.INT8);

    private final int bytes;
    private final DataType djl;

    TensorType(int bytes, DataType djl) {
        this.bytes = bytes;
        this.djl = djl;
    }

    /** Bytes per element. */
    public int bytes() {
        return bytes;
    }

    /** The DJL data type holding the same bits. */
    public DataType dataType() {
        return djl;
    }

    /** The safetensors type of a DJL data type, or an error naming it. */
    public static TensorType of(DataType type) {
        for (TensorType t : values()) {
            if (t.djl == type) {
                return t;
            }
        }
        throw new IllegalArgumentException("safetensors has no type for DJL data type " + type);
    }

    /** Parses a safetensors dtype string; returns null when this library does not support it. */
    static TensorType parse(String name) {
        for (TensorType t : values()) {
            if (t.name().equals(name)) {
                return t;
            }
        }
        return null;
    }
}
