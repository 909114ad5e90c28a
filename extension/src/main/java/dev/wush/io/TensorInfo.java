package dev.wush.io;

import ai.djl.ndarray.types.Shape;

/**
 * One entry of a safetensors header.
 *
 * @param name tensor name, e.g. {@code model.layers.0.self_attn.q_proj.weight}
 * @param type element type
 * @param shape tensor shape, row-major
 * @param begin first byte, relative to the start of the data section
 * @param end one past the last byte, relative to the start of the data section
 */
public record TensorInfo(String name, TensorType type, Shape shape, long begin, long end) {

    /** Bytes this tensor occupies. */
    public long byteSize() {
        return end - begin;
    }
}
