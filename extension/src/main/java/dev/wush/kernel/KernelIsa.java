package dev.wush.kernel;

import java.util.Locale;

/**
 * Instruction sets of the native products, lowest first. The kernels use the best one the CPU has;
 * the setting {@code wush.kernels.isa} ({@code WUSH_KERNELS_ISA}, see {@link dev.wush.Settings}) forces a lower
 * one (for comparisons and bug hunts).
 * Quantization of activations is bit-identical on every level, and so are the W4A4 products from
 * {@link #AVX2} up (same partial sums, same accumulation order); the scalar path and the Java fallback agree
 * with them up to float32 summation order.
 */
public enum KernelIsa {
    /** Plain C. */
    SCALAR("scalar"),
    /** AVX2 and FMA: byte shuffles for the 4-bit codes, {@code vpmaddubsw} products. */
    AVX2("avx2"),
    /** AVX-512 (F, BW, DQ, VL) with VNNI: 64 codes per step, {@code vpdpbusd} products, bit-identical to {@link #AVX2}. */
    AVX512_VNNI("avx512-vnni");

    private final String id;

    KernelIsa(String id) {
        this.id = id;
    }

    /** The name {@code wush.kernels.isa} takes. */
    public String id() {
        return id;
    }

    /** The level named {@code id}; an error lists the names. */
    public static KernelIsa of(String id) {
        for (KernelIsa isa : values()) {
            if (isa.id.equals(id.trim().toLowerCase(Locale.ROOT))) {
                return isa;
            }
        }
        throw new IllegalArgumentException("wush.kernels.isa: unknown instruction set '" + id + "'; known: scalar, avx2, avx512-vnni");
    }
}
