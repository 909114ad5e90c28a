package dev.wush.zoo.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.wush.nn.NamedBlock;

/** {@code y = x / sqrt(mean(x²) + eps) · weight}, computed in float32 whatever the input dtype. */
public final class RmsNorm extends NamedBlock {

    private final float eps;
    private final Parameter weight; // (hidden)

    public RmsNorm(double eps) {
        this.eps = (float) eps;
        this.weight = weightParameter("weight");
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.head();
        DataType dtype = x.getDataType();
        NDArray x32 = x.toType(DataType.FLOAT32, false);
        NDArray inverseRms = x32.square().mean(new int[] {-1}, true).add(eps).pow(-0.5f);
        NDArray normed = x32.mul(inverseRms).toType(dtype, false);
        return new NDList(normed.mul(ps.getValue(weight, x.getDevice(), training)));
    }
}
