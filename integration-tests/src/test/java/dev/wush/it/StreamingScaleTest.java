package dev.wush.it;

import static dev.wush.it.CliTest.wush;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wush.cli.WushProcess;
import dev.wush.it.CliTest.Run;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CI variant of {@code wush bench-scale}: twelve decoder blocks of Llama-3.2-1B's shapes (bf16),
 * quantized and then loaded by child JVMs with 512 MB and 256 MB heaps (less than the packed weights, which
 * must live outside the heap-sized direct-memory limit), whose peak resident memory (VmHWM) is
 * read from {@code /proc}. Quantizing must stay below the float32 size of the decoder stack, which
 * loading the whole model would exceed on its own; loading the quantized result must stay below the
 * float32 embedding table plus the packed weights, which copying the table to float32 would exceed.
 * (That each block is written and freed before the next is checked exactly, in process, by
 * {@code QuantizedCheckpointTest.streamingBlockByBlockWritesWhatSavingTheWholeModelWrites}.)
 */
class StreamingScaleTest {

    static final int BLOCKS = 12;

    @TempDir
    Path tmp;

    @Test
    void quantizingHoldsOneBlockAndLoadingCopiesNoTable() throws Exception {
        Path model = tmp.resolve("llama-3.2-1b-8");
        Run make = wush("make-model", "--like", "llama-3.2-1b", "--layers", "" + BLOCKS, "--out", model.toString());
        assertEquals(0, make.code(), make.err());
        Path calib = tmp.resolve("calib.txt");
        Files.writeString(calib, "Once upon a time there was a little model that wanted to be small. ".repeat(40));

        long hidden = 2048;
        long inter = 8192;
        long kv = 512;
        long blockParams = 2 * hidden * hidden + 2 * hidden * kv + 3 * hidden * inter; // (out, in) of the seven linears
        long stackFloat32 = BLOCKS * blockParams * 4;         // 2.92 GB
        long tableFloat32 = 128256L * hidden * 4;             // 1.05 GB
        long packed = BLOCKS * blockParams * 17 / 32;         // 4.25 bits per weight

        Path out = tmp.resolve("quantized");
        WushProcess.Result q = child("512m", List.of("quantize", "--model", model.toString(), "--calib", calib.toString(),
                "--window", "64", "--calib-windows", "2", "--method", "rtn", "--transform", "hadamard", "--out", out.toString()));
        long quantizePeak = q.peakBytes("exit");
        assertTrue(quantizePeak < stackFloat32, "quantize peaked at " + quantizePeak / 1e9 + " GB, not below the "
                + stackFloat32 / 1e9 + " GB float32 decoder stack: blocks are held, not streamed");

        // a heap smaller than the 0.39 GB of packed weights: they live in native memory outside the direct-memory limit
        WushProcess.Result g = child("256m", List.of("generate", "--model", out.toString(), "--prompt", "Once upon", "--max-tokens", "2"));
        long loadPeak = g.peakBytes("loaded");
        assertTrue(loadPeak < tableFloat32 + packed, "loading peaked at " + loadPeak / 1e9 + " GB, not below the "
                + (tableFloat32 + packed) / 1e9 + " GB of a float32 embedding table plus the packed weights");
        System.out.printf("StreamingScaleTest: quantize VmHWM %.2f GB (float32 stack %.2f GB), load VmHWM %.2f GB (float32 table + packed %.2f GB)%n",
                quantizePeak / 1e9, stackFloat32 / 1e9, loadPeak / 1e9, (tableFloat32 + packed) / 1e9);
    }

    /** Runs {@code wush ARGS} in a child JVM with that -Xmx; fails the test with its output if it fails. */
    private WushProcess.Result child(String heap, List<String> args) throws IOException, InterruptedException {
        Path log = tmp.resolve(args.getFirst() + ".log");
        WushProcess.Result r = WushProcess.run(heap, args, tmp.resolve("marks-" + args.getFirst() + ".txt"), log, true);
        assertEquals(0, r.exitCode(), "wush " + String.join(" ", args) + ":\n" + Files.readString(log));
        return r;
    }
}
