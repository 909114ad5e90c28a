package dev.wush.quant.transform;

import org.ejml.data.DMatrixRMaj;

/**
 * The transform of one block of {@code d} input features, as a pair of d×d matrices:
 *
 * <ul>
 *   <li>{@code forward} = T, applied to activations as {@code x ↦ x · Tᵀ};
 *   <li>{@code weightSide} = {@code T^(-T)} (T_xvsh for WUSH), applied to weights as
 *       {@code w ↦ w · weightSideᵀ = w · T⁻¹}.
 * </ul>
 *
 * Then {@code (x Tᵀ)(w T⁻¹)ᵀ = x wᵀ} before quantization.
 */
public record BlockTransform(DMatrixRMaj forward, DMatrixRMaj weightSide) {

    /** Block size d. */
    public int size() {
        return forward.numRows;
    }
}
