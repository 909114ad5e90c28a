package dev.wush.zoo.synth;

import ai.djl.ndarray.types.Shape;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import dev.wush.io.ShardedSafeTensorsWriter;
import dev.wush.io.TensorType;
import dev.wush.quant.format.Bf16;
import dev.wush.zoo.llama.LlamaConfig;
import dev.wush.zoo.llama.LlamaForCausalLM;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;

/**
 * A Hugging Face checkpoint of a real model's shapes with seeded random weights, for testing and
 * measuring at scale without the real weights: {@code config.json} of the preset, sharded safetensors
 * (bf16 or float32) with an index, and a {@link SyntheticTokenizer} covering the whole vocabulary.
 *
 * <p>The weights have the structure that makes quantization transforms matter: linear weights
 * (std 0.02, Irwin–Hall-shaped) with a few input columns 8× larger, and RMSNorm weights near 1 with
 * the same few hidden channels at 10–30 in every block, the "massive activation" channels of trained
 * LLMs, so the inputs of the linears have outlier features. Embeddings have std 0.02.
 *
 * <p>Tensors are generated and written piece by piece (chunks of 1 Mi elements, generated in
 * parallel, each from its own seeded stream), so memory stays small and the result depends on the
 * seed alone, not on the thread count.
 */
public final class SyntheticCheckpoint {

    /** Elements per generated piece. */
    static final int CHUNK = 1 << 20;
    /** Hidden channels with massive activations (norm weights 10–30). */
    static final int OUTLIER_CHANNELS = 4;
    /** Input columns per linear whose weights are {@link #OUTLIER_COLUMN_SCALE}× larger. */
    static final int OUTLIER_COLUMNS = 8;
    static final float OUTLIER_COLUMN_SCALE = 8f;

    private final JsonObject config;
    private final LlamaConfig llama;
    private final TensorType dtype;
    private final long seed;
    private final List<ShardedSafeTensorsWriter.Spec> tensors;

    /**
     * @param config the model's config.json (a {@link LlamaPresets} entry, possibly with fewer layers)
     * @param dtype BF16 or F32
     */
    public SyntheticCheckpoint(JsonObject config, TensorType dtype, long seed) {
        if (dtype != TensorType.BF16 && dtype != TensorType.F32) {
            throw new IllegalArgumentException("synthetic checkpoints are bf16 or float32, not " + dtype);
        }
        this.config = config.deepCopy();
        this.config.addProperty("torch_dtype", dtype == TensorType.BF16 ? "bfloat16" : "float32");
        this.llama = LlamaConfig.parse(this.config, "preset");
        this.dtype = dtype;
        this.seed = seed;
        this.tensors = plan();
    }

    /** Tensors in the order they are written (Hugging Face's: embeddings, blocks, final norm, head). */
    public List<ShardedSafeTensorsWriter.Spec> tensors() {
        return tensors;
    }

    private List<ShardedSafeTensorsWriter.Spec> plan() {
        List<ShardedSafeTensorsWriter.Spec> specs = new ArrayList<>();
        for (Map.Entry<String, Shape> e : new LlamaForCausalLM(llama).parameterShapes().entrySet()) {
            if (e.getKey().equals("lm_head.weight") && llama.tieWordEmbeddings()) {
                continue; // tied: the embedding is the head
            }
            specs.add(new ShardedSafeTensorsWriter.Spec(e.getKey(), dtype, e.getValue()));
        }
        return List.copyOf(specs);
    }

    /** Bytes of all weights. */
    public long weightBytes() {
        return tensors.stream().mapToLong(ShardedSafeTensorsWriter.Spec::byteSize).sum();
    }

    /**
     * Writes the checkpoint into the empty directory {@code dir} (the staging directory of an
     * {@code OutputDirectory}).
     *
     * @param progress told the bytes written so far after each piece
     */
    public void write(Path dir, long maxShardBytes, java.util.function.LongConsumer progress) throws IOException {
        Files.writeString(dir.resolve("config.json"), new GsonBuilder().setPrettyPrinting().create().toJson(config));
        Map<Integer, String> specials = new TreeMap<>();
        if (llama.vocabSize() == 128256) { // Llama 3 keeps its 256 special tokens at the top of the vocabulary
            for (int id = 128000; id < 128256; id++) {
                specials.put(id, "<|reserved_special_token_" + (id - 128000) + "|>");
            }
            specials.putAll(Map.of(128000, "<|begin_of_text|>", 128001, "<|end_of_text|>", 128008, "<|eom_id|>",
                    128009, "<|eot_id|>"));
        }
        specials.putIfAbsent(llama.bosTokenId(), "<|begin_of_text|>");
        for (int id : llama.eosTokenIds()) {
            specials.putIfAbsent(id, "<|end_of_text_" + id + "|>");
        }
        Files.writeString(dir.resolve("tokenizer.json"), SyntheticTokenizer.build(llama.vocabSize(), specials).toString());

        int[] massive = pick(new SplittableRandom(seed ^ 0x5EED), llama.hiddenSize(), OUTLIER_CHANNELS);
        int parallel = Math.max(1, Runtime.getRuntime().availableProcessors()) * 2;
        // two sets of pieces: one is generated (all cores) while the other is written (one thread)
        ByteBuffer[][] sets = new ByteBuffer[2][parallel];
        for (ByteBuffer[] set : sets) {
            for (int i = 0; i < parallel; i++) {
                set[i] = ByteBuffer.allocateDirect(CHUNK * dtype.bytes()).order(ByteOrder.LITTLE_ENDIAN);
            }
        }
        ExecutorService writer = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "synthetic-checkpoint-writer");
            t.setDaemon(true);
            return t;
        });
        long[] written = {0};
        try (ShardedSafeTensorsWriter out = new ShardedSafeTensorsWriter(dir, tensors, maxShardBytes, Map.of("format", "pt"))) {
            Future<?> pending = CompletableFuture.completedFuture(null);
            int set = 0;
            for (ShardedSafeTensorsWriter.Spec spec : tensors) {
                Generator g = generator(spec, massive);
                long elements = spec.shape().size();
                long chunks = (elements + CHUNK - 1) / CHUNK;
                for (long first = 0; first < chunks; first += parallel) {
                    long from = first;
                    int count = (int) Math.min(parallel, chunks - first);
                    ByteBuffer[] pieces = sets[set];
                    IntStream.range(0, count).parallel().forEach(i -> {
                        long start = (from + i) * CHUNK;
                        fill(pieces[i], g, from + i, start, (int) Math.min(CHUNK, elements - start));
                    });
                    await(pending); // the other set is written: it may be refilled next
                    pending = writer.submit(() -> {
                        for (int i = 0; i < count; i++) {
                            written[0] += pieces[i].remaining();
                            out.write(spec.name(), pieces[i]);
                        }
                        progress.accept(written[0]);
                        return null;
                    });
                    set ^= 1;
                }
            }
            await(pending);
            out.finish();
        } finally {
            writer.shutdownNow();
        }
    }

    private static void await(Future<?> write) throws IOException {
        try {
            write.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            throw new IllegalStateException(e.getCause());
        }
    }

    /** How the elements of one tensor are drawn. */
    private record Generator(long seed, float std, float center, long columns, boolean[] outlierColumn, float[] fixed) {}

    private Generator generator(ShardedSafeTensorsWriter.Spec spec, int[] massive) {
        String name = spec.name();
        long tensorSeed = seed * 0x9E3779B97F4A7C15L + name.hashCode();
        long[] dims = spec.shape().getShape();
        if (name.endsWith("norm.weight")) { // RMSNorm: ~1, massive channels 10–30 (not in the final norm)
            float[] fixed = new float[(int) dims[0]];
            SplittableRandom r = new SplittableRandom(tensorSeed);
            for (int i = 0; i < fixed.length; i++) {
                fixed[i] = 1f + 0.05f * (float) (r.nextDouble() * 2 - 1);
            }
            if (!name.equals("model.norm.weight")) {
                for (int c : massive) {
                    fixed[c] = 10f + 20f * (float) r.nextDouble();
                }
            }
            return new Generator(tensorSeed, 0, 0, 0, null, fixed);
        }
        if (dims.length == 2 && name.contains(".layers.")) { // a linear (out, in): a few heavy input columns
            boolean[] heavy = new boolean[(int) dims[1]];
            for (int c : pick(new SplittableRandom(tensorSeed ^ 0xC01), (int) dims[1], Math.min(OUTLIER_COLUMNS, (int) dims[1]))) {
                heavy[c] = true;
            }
            return new Generator(tensorSeed, 0.02f, 0, dims[1], heavy, null);
        }
        if (dims.length == 1) { // a bias
            return new Generator(tensorSeed, 0.01f, 0, 0, null, null);
        }
        return new Generator(tensorSeed, 0.02f, 0, 0, null, null); // embeddings, head
    }

    /** Elements {@code start .. start+n} of a tensor, chunk {@code c}, into {@code piece} (flipped for reading). */
    private void fill(ByteBuffer piece, Generator g, long c, long start, int n) {
        piece.clear();
        SplittableRandom r = new SplittableRandom(g.seed() + c * 0x2545F4914F6CDD1DL);
        // Irwin–Hall of two uniforms: a hump of std 1/sqrt(6) around 0, scaled to the wanted std
        float scale = g.std() * 2.4494897f;
        for (int i = 0; i < n; i++) {
            float v;
            if (g.fixed() != null) {
                v = g.fixed()[(int) (start + i)];
            } else {
                long bits = r.nextLong();
                float u = ((bits >>> 40) + (bits & 0xFFFFFF)) * 0x1.0p-24f - 1f;
                v = g.center() + scale * u;
                if (g.outlierColumn() != null && g.outlierColumn()[(int) ((start + i) % g.columns())]) {
                    v *= OUTLIER_COLUMN_SCALE;
                }
            }
            if (dtype == TensorType.BF16) {
                piece.putShort((short) Bf16.encode(v)); // round to nearest even
            } else {
                piece.putFloat(v);
            }
        }
        piece.flip();
    }

    /** {@code k} distinct indices in [0, n), seeded. */
    static int[] pick(SplittableRandom r, int n, int k) {
        return r.ints(0, n).distinct().limit(Math.min(k, n)).sorted().toArray();
    }
}
