package dev.wush.nn;

import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.util.Pair;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Finds blocks in a DJL block tree by dotted path ({@code model.layers.0.mlp.up_proj}). */
public final class BlockPaths {

    private BlockPaths() {}

    /** The block at {@code path} below {@code root}, or an error naming the missing part. */
    public static Block find(Block root, String path) {
        Block block = root;
        StringBuilder walked = new StringBuilder();
        for (String part : path.split("\\.")) {
            Block next = block.getChildren().get(part);
            if (next == null) {
                throw new IllegalArgumentException(
                        "no block '" + part + "' under '" + walked + "' (children: "
                                + block.getChildren().keys() + ") while resolving '" + path + "'");
            }
            if (!walked.isEmpty()) {
                walked.append('.');
            }
            walked.append(part);
            block = next;
        }
        return block;
    }

    /** Every block of the tree by its path, depth first, parents before children. */
    public static Map<String, Block> all(Block root) {
        Map<String, Block> out = new LinkedHashMap<>();
        collect(root, "", out);
        return out;
    }

    private static void collect(Block block, String prefix, Map<String, Block> out) {
        for (Pair<String, Block> child : block.getChildren()) {
            String path = prefix.isEmpty() ? child.getKey() : prefix + "." + child.getKey();
            out.put(path, child.getValue());
            collect(child.getValue(), path, out);
        }
    }

    /** Every {@link Linear} of the tree by its path. */
    public static Map<String, Linear> linears(Block root) {
        Map<String, Linear> out = new LinkedHashMap<>();
        all(root).forEach((path, block) -> {
            if (block instanceof Linear linear) {
                out.put(path, linear);
            }
        });
        return out;
    }

    /**
     * Replaces the block at {@code path}. Its parent must be a {@link NamedBlock} (the name is kept) or
     * a DJL {@link SequentialBlock} (rebuilt from that position on; DJL names a child by its position
     * and class, so the replacement's path ends in its own class name).
     */
    public static Block replace(Block root, String path, Block replacement) {
        int dot = path.lastIndexOf('.');
        Block parent = dot < 0 ? root : find(root, path.substring(0, dot));
        String name = path.substring(dot + 1);
        if (parent instanceof NamedBlock named) {
            return named.replaceChild(name, replacement);
        }
        if (parent instanceof SequentialBlock sequence) {
            List<String> names = sequence.getChildren().keys();
            int index = names.indexOf(name);
            if (index < 0) {
                throw new IllegalArgumentException("no block '" + name + "' in " + names);
            }
            List<Block> tail = new ArrayList<>();
            for (int i = names.size() - 1; i > index; i--) {
                tail.addFirst(sequence.getChildren().valueAt(i));
                sequence.removeLastBlock();
            }
            Block old = sequence.getChildren().valueAt(index);
            sequence.replaceLastBlock(replacement);
            tail.forEach(sequence::add);
            return old;
        }
        throw new IllegalArgumentException("cannot replace '" + path + "': its parent " + parent.getClass().getSimpleName()
                + " does not support replacing children");
    }

    /** The path a block ended up at after {@link #replace} (SequentialBlock children are renamed). */
    public static String pathOf(Block root, Block block) {
        for (Map.Entry<String, Block> e : all(root).entrySet()) {
            if (e.getValue() == block) {
                return e.getKey();
            }
        }
        throw new IllegalArgumentException("block is not in the tree");
    }
}
