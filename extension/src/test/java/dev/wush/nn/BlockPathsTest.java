package dev.wush.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDList;
import ai.djl.nn.Block;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.util.List;
import org.junit.jupiter.api.Test;

class BlockPathsTest {

    static final class Node extends NamedBlock {
        Node(String name, Block block) {
            putChild(name, block);
        }

        Node add(String name, Block block) {
            putChild(name, block);
            return this;
        }

        @Override
        protected NDList forwardInternal(ParameterStore ps, NDList in, boolean training, PairList<String, Object> p) {
            return in;
        }
    }

    @Test
    void findsAndReplacesByPlainNames() {
        Linear q = Linear.builder().setUnits(4).build();
        Linear up = Linear.builder().setUnits(8).build();
        Node root = new Node("layers", new Node("0", new Node("self_attn", new Node("q_proj", q))
                .add("mlp", new Node("up_proj", up))));
        assertSame(q, BlockPaths.find(root, "layers.0.self_attn.q_proj"));
        assertEquals(List.of("layers.0.self_attn.q_proj", "layers.0.mlp.up_proj"), List.copyOf(BlockPaths.linears(root).keySet()));

        Linear replacement = Linear.builder().setUnits(4).build();
        assertSame(q, BlockPaths.replace(root, "layers.0.self_attn.q_proj", replacement));
        assertSame(replacement, BlockPaths.find(root, "layers.0.self_attn.q_proj"));

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BlockPaths.find(root, "layers.1.mlp"));
        assertTrue(e.getMessage().contains("'1'") && e.getMessage().contains("layers"), e.getMessage());
    }
}
