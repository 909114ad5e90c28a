package dev.wush.it;

import static dev.wush.it.CliTest.wush;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.nn.Block;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import dev.wush.kernel.PackedLayer;
import dev.wush.nn.BlockPaths;
import dev.wush.quant.block.WushLinear;
import dev.wush.translators.TokenWindows;
import dev.wush.translators.WindowLosses;
import dev.wush.zoo.WushModelZoo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Closing a quantized model frees its native memory at once, not when a garbage collection happens to run. */
class ModelCloseTest {

    static final int LOADS = 100;

    @TempDir
    Path tmp;

    @Test
    void loadingAndClosingAQuantizedModelAHundredTimesKeepsMemoryBounded() throws Exception {
        Path fp = tmp.resolve("m");
        CliTest.Run make = wush("make-model", "--like", "llama-3.2-1b", "--layers", "1", "--vocab", "512", "--seed", "3",
                "--out", fp.toString());
        assertEquals(0, make.code(), make.err());
        Path q = tmp.resolve("q");
        CliTest.Run quantize = wush("quantize", "--model", fp.toString(), "--calib", Shared.TINYSTORIES_EVAL.toString(),
                "--calib-windows", "1", "--window", "32", "--format", "mxfp4", "--method", "rtn", "--transform", "identity",
                "--out", q.toString());
        assertEquals(0, quantize.code(), quantize.err());

        Criteria<TokenWindows, WindowLosses> criteria = Criteria.builder()
                .setTypes(TokenWindows.class, WindowLosses.class)
                .optGroupId(WushModelZoo.GROUP_ID)
                .optArtifactId(WushModelZoo.ANY_LLAMA)
                .optArgument("model", q.toString())
                .build();
        long packed = 0;
        long rssAfterWarmUp = 0;
        for (int i = 0; i < LOADS; i++) {
            List<PackedLayer> layers = new ArrayList<>();
            try (ZooModel<TokenWindows, WindowLosses> model = criteria.loadModel()) {
                for (Block block : BlockPaths.all(model.getBlock()).values()) {
                    if (block instanceof WushLinear w) {
                        layers.add(w.packed());
                    }
                }
                packed = layers.stream().mapToLong(PackedLayer::residentBytes).sum();
                assertEquals(7, layers.size());
                assertTrue(packed > 30_000_000, "one block of Llama-3.2-1B shapes packs to about 32 MB, not " + packed + " bytes");
            }
            for (PackedLayer layer : layers) {
                assertFalse(layer.isOpen(), layer.name() + " still holds its native memory after closing load " + (i + 1));
            }
            if (i == 9) {
                rssAfterWarmUp = residentBytes();
            }
        }
        long growth = residentBytes() - rssAfterWarmUp;
        // a leak of the packed layers alone would add 90 × 32 MB here
        assertTrue(growth < 10 * packed, "resident memory grew by " + growth / 1_000_000 + " MB over " + (LOADS - 10)
                + " loads of a model of " + packed / 1_000_000 + " MB packed");
    }

    /** VmRSS of this process. */
    static long residentBytes() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }
}
