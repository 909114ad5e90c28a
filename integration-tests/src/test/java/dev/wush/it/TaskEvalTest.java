package dev.wush.it;

import static dev.wush.it.CliTest.wush;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.wush.translators.TextTokenizer;
import dev.wush.translators.tasks.ChoiceScores;
import dev.wush.translators.tasks.ContextChoices;
import dev.wush.translators.tasks.Task;
import dev.wush.translators.tasks.TaskEvaluator;
import dev.wush.translators.tasks.TaskItem;
import dev.wush.translators.tasks.TaskReader;
import dev.wush.zoo.LlamaModelLoader;
import dev.wush.zoo.WushModelZoo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Zero-shot task scoring against log-likelihoods the test computes itself: the reference forward in double precision
 * ({@link ReferenceLlama}) on context + continuation, one prefix at a time, without any cache.
 */
class TaskEvalTest {

    @TempDir
    Path tmp;

    /** Hand-made items in each dataset's format. */
    static final Map<Task, String> FILES = Map.of(
            Task.ARC_EASY, """
                    {"id": "a1", "question": "What does a cat like to drink?", "choices": {"text": ["milk", "rocks", "cars"], "label": ["A", "B", "C"]}, "answerKey": "A"}
                    {"id": "a2", "question": "Where do fish live?", "choices": {"text": ["in the sky", "in water"], "label": ["1", "2"]}, "answerKey": "2"}
                    """,
            Task.HELLASWAG, """
                    {"activity_label": "Playing", "ctx_a": "The girl ran to the park.", "ctx_b": "SHE", "endings": ["played with her friends.", "ate a [title] car"], "label": "0"}
                    """,
            Task.PIQA, """
                    {"goal": "To make the dog happy", "sol1": "give it a bone", "sol2": "give it a rock", "label": 0}
                    """,
            Task.WINOGRANDE, """
                    {"sentence": "Tom gave Lily a toy because _ was sad.", "option1": "Tom", "option2": "Lily", "answer": "2"}
                    """,
            Task.LAMBADA_OPENAI, """
                    {"text": "Once upon a time, there was a little girl named Lily. She loved to play with her toys. One day, she went to the park"}
                    """);

    static double referenceLoglikelihood(ReferenceLlama ref, long[] context, long[] continuation, boolean[] greedy) {
        double ll = 0;
        greedy[0] = true;
        long[] prefix = context;
        for (long token : continuation) {
            double[] logits = ref.nextLogits(prefix);
            double max = Arrays.stream(logits).max().orElseThrow();
            double sum = 0;
            int best = 0;
            for (int i = 0; i < logits.length; i++) {
                sum += Math.exp(logits[i] - max);
                if (logits[i] > logits[best]) {
                    best = i;
                }
            }
            ll += logits[(int) token] - max - Math.log(sum);
            greedy[0] &= best == token;
            prefix = Arrays.copyOf(prefix, prefix.length + 1);
            prefix[prefix.length - 1] = token;
        }
        return ll;
    }

    @Test
    void everyTaskScoresAsTheIndependentReferenceForward() throws Exception {
        Path dir = Shared.model("stories260K");
        ReferenceLlama ref = new ReferenceLlama(dir);
        Criteria<ContextChoices, ChoiceScores> criteria = Criteria.builder().setTypes(ContextChoices.class, ChoiceScores.class)
                .optGroupId(WushModelZoo.GROUP_ID).optArtifactId("stories260K").build();
        try (ZooModel<ContextChoices, ChoiceScores> model = criteria.loadModel();
                TextTokenizer tokenizer = LlamaModelLoader.tokenizer(model);
                Predictor<ContextChoices, ChoiceScores> predictor = model.newPredictor()) {
            for (boolean bos : new boolean[] {false, true}) {
                TaskEvaluator evaluator = new TaskEvaluator(tokenizer, bos, 512, 2); // batches of 2: ARC's 3 choices take two passes
                for (Map.Entry<Task, String> e : FILES.entrySet()) {
                    Path file = tmp.resolve(e.getKey().label() + ".jsonl");
                    Files.writeString(file, e.getValue());
                    List<TaskItem> items = TaskReader.read(e.getKey(), file, 0);
                    List<ChoiceScores> scores = evaluator.score(predictor, items, done -> {});
                    for (int k = 0; k < items.size(); k++) {
                        for (int i = 0; i < items.get(k).requests().size(); i++) {
                            long[][] pair = evaluator.encode(items.get(k).requests().get(i));
                            boolean[] greedy = new boolean[1];
                            double expected = referenceLoglikelihood(ref, pair[0], pair[1], greedy);
                            String what = e.getKey().label() + " item " + k + " choice " + i + (bos ? " with BOS" : "");
                            assertEquals(expected, scores.get(k).loglikelihood()[i], 2e-3 + 1e-4 * Math.abs(expected), what);
                            assertEquals(greedy[0], scores.get(k).greedy()[i], what + " greedy");
                        }
                    }
                }
            }
        }
    }

    @Test
    void theContinuationKeepsItsFirstTokenAndTrailingSpacesMoveToIt() throws Exception {
        Path dir = Shared.model("stories260K");
        try (TextTokenizer tokenizer = TextTokenizer.load(dir, 1, List.of(2L))) {
            TaskEvaluator evaluator = new TaskEvaluator(tokenizer, false, 512, 4);
            long[][] plain = evaluator.encode(new TaskItem.Request("Once upon a", " time"));
            assertArrayEquals(tokenizer.encode("Once upon a"), plain[0]);
            long[] whole = tokenizer.encode("Once upon a time");
            assertArrayEquals(Arrays.copyOfRange(whole, plain[0].length, whole.length), plain[1]);
            // the space at the end of the context belongs to the continuation, as in the harness
            long[][] moved = evaluator.encode(new TaskItem.Request("Once upon a ", "time"));
            assertArrayEquals(plain[0], moved[0]);
            assertArrayEquals(plain[1], moved[1]);
            // an empty context is BOS
            assertArrayEquals(new long[] {1}, evaluator.encode(new TaskItem.Request("", "Once")).clone()[0]);
            // with addBos every context starts with BOS
            long[][] bos = new TaskEvaluator(tokenizer, true, 512, 4).encode(new TaskItem.Request("Once upon a", " time"));
            assertEquals(1, bos[0][0]);
            assertArrayEquals(plain[1], bos[1]);
        }
    }

    @Test
    void malformedLinesNameTheFileAndLine() throws Exception {
        Path file = tmp.resolve("piqa.jsonl");
        Files.writeString(file, "{\"goal\": \"g\", \"sol1\": \"a\", \"sol2\": \"b\", \"label\": 0}\n\n{\"goal\": \"g\", \"sol1\": \"a\"\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TaskReader.read(Task.PIQA, file, 0));
        assertTrue(e.getMessage().startsWith(file + ":3: not valid JSON"), e.getMessage());
        Files.writeString(file, "{\"goal\": \"g\", \"sol1\": \"a\", \"label\": 0}\n");
        e = assertThrows(IllegalArgumentException.class, () -> TaskReader.read(Task.PIQA, file, 0));
        assertEquals(file + ":1: piqa record: field \"sol2\" is missing", e.getMessage());
        assertEquals(1, TaskReader.read(Task.ARC_EASY, write("arc.jsonl", FILES.get(Task.ARC_EASY)), 1).size(), "--limit");
    }

    private Path write(String name, String text) throws Exception {
        Path p = tmp.resolve(name);
        Files.writeString(p, text);
        return p;
    }

    @Test
    void theCommandLineReportsEveryTaskAndTheAverage() throws Exception {
        Path piqa = write("piqa.jsonl", FILES.get(Task.PIQA));
        Path lambada = write("lambada.jsonl", FILES.get(Task.LAMBADA_OPENAI));
        CliTest.Run run = wush("eval-tasks", "--model", "stories260K", "--task", "piqa=" + piqa, "--task", "lambada=" + lambada, "--json");
        assertEquals(0, run.code(), run.err());
        JsonObject o = JsonParser.parseString(run.lines().getLast()).getAsJsonObject();
        JsonObject tasks = o.getAsJsonObject("tasks");
        assertEquals(1, tasks.getAsJsonObject("piqa").get("items").getAsInt());
        assertTrue(tasks.getAsJsonObject("piqa").has("acc_norm"));
        assertTrue(tasks.getAsJsonObject("lambada_openai").get("perplexity").getAsDouble() > 1);
        double mean = (tasks.getAsJsonObject("piqa").get("acc").getAsDouble() + tasks.getAsJsonObject("lambada_openai").get("acc").getAsDouble()) / 2;
        assertEquals(mean, o.get("average_acc").getAsDouble(), 1e-12);
        assertEquals(tasks.getAsJsonObject("piqa").get("acc_norm").getAsDouble(), o.get("average_acc_norm").getAsDouble(), 1e-12,
                "LAMBADA reports no acc_norm, so the average is PIQA's");

        CliTest.Run bad = wush("eval-tasks", "--model", "stories260K", "--task", "mmlu=" + piqa);
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("unknown task 'mmlu'"), bad.err());
        CliTest.Run noEq = wush("eval-tasks", "--model", "stories260K", "--task", "piqa");
        assertEquals(2, noEq.code());
        assertTrue(noEq.err().contains("NAME=FILE"), noEq.err());
    }
}
