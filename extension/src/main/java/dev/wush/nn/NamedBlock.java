package dev.wush.nn;

import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;

/**
 * A block whose children keep exactly the names they are given (DJL's {@code addChildBlock} prefixes
 * them with a counter), so that a path such as {@code model.layers.3.self_attn.q_proj} names one
 * block, and whose children can be replaced in place, e.g. a {@code Linear} by a quantized linear.
 *
 * <p>Subclasses look their children up by name in {@code forward}, never through a cached field, so a
 * replacement takes effect at once.
 */
public abstract class NamedBlock extends AbstractBlock {

    protected NamedBlock() {
        this((byte) 1);
    }

    /** @param version the version byte of this block's saved parameters (DJL's {@code Model.save}) */
    protected NamedBlock(byte version) {
        super(version);
    }

    /** Adds a child under its plain name. */
    protected final <B extends Block> B putChild(String name, B block) {
        if (children.contains(name)) {
            throw new IllegalArgumentException(getClass().getSimpleName() + " already has a child '" + name + "'");
        }
        children.add(name, block);
        return block;
    }

    /** The child of that name, or an error listing the children. */
    public final Block child(String name) {
        Block block = children.get(name);
        if (block == null) {
            throw new IllegalArgumentException(
                    getClass().getSimpleName() + " has no child '" + name + "' (children: " + children.keys() + ")");
        }
        return block;
    }

    /** Replaces a child, keeping its name and position; returns the block it replaced. */
    public final Block replaceChild(String name, Block replacement) {
        int index = children.indexOf(name);
        if (index < 0) {
            throw new IllegalArgumentException(
                    getClass().getSimpleName() + " has no child '" + name + "' to replace");
        }
        Block old = children.valueAt(index);
        children.remove(index);
        children.add(index, name, replacement);
        return old;
    }

    /** Declares a weight parameter; its array is set when a checkpoint is loaded. */
    protected final Parameter weightParameter(String name) {
        return addParameter(Parameter.builder().setName(name).setType(Parameter.Type.WEIGHT).build());
    }

    /** Output shapes are not inferred symbolically for these blocks. */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        throw new UnsupportedOperationException(
                getClass().getSimpleName() + " does not infer output shapes; run it on real inputs");
    }
}
