package dev.wush.it;

import static dev.wush.it.CliTest.wush;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wush.it.CliTest.Run;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code wush make-model} at a real model's shapes: the checkpoint loads and generates; outputs are guarded. */
class MakeModelTest {

    @TempDir
    Path tmp;

    @Test
    void llama32OneBlockCheckpointGenerates() throws Exception {
        Path out = tmp.resolve("llama-3.2-1b-1block");
        Run make = wush("make-model", "--like", "llama-3.2-1b", "--layers", "1", "--seed", "5", "--shard-size", "300000000",
                "--out", out.toString());
        assertEquals(0, make.code(), make.err());
        assertTrue(make.out().contains("llama-3.2-1b shapes, 1 block, bf16, 0.65 GB of weights in 2 shards"), make.out());
        assertTrue(Files.isRegularFile(out.resolve("model.safetensors.index.json")));

        Run gen = wush("generate", "--model", out.toString(), "--prompt", "the cat sat", "--max-tokens", "4");
        assertEquals(0, gen.code(), gen.err());
        assertTrue(gen.err().contains("4 generated"), gen.err());

        Run again = wush("make-model", "--like", "llama-3.2-1b", "--layers", "1", "--out", out.toString());
        assertEquals(2, again.code());
        Files.writeString(out.resolve("notes.txt"), "mine");
        Run foreign = wush("make-model", "--like", "llama-3.2-1b", "--layers", "1", "--out", out.toString(), "--overwrite");
        assertEquals(1, foreign.code());
        assertTrue(foreign.err().contains("notes.txt"), foreign.err());
        Files.delete(out.resolve("notes.txt"));
        Run replaced = wush("make-model", "--like", "llama-3.2-1b", "--layers", "1", "--dtype", "float32", "--out", out.toString(),
                "--overwrite");
        assertEquals(0, replaced.code(), replaced.err());
        assertTrue(Files.readString(out.resolve("config.json")).contains("\"torch_dtype\": \"float32\""));
    }
}
