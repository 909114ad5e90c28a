package dev.wush.translators.tasks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonParser;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The harness's metrics and request building, without a model. */
class TaskMetricsTest {

    static ChoiceScores scores(double... ll) {
        return new ChoiceScores(ll, new boolean[ll.length]);
    }

    @Test
    void accAndAccNormAsTheHarnessComputesThem() {
        // choice texts of 1 and 4 bytes: per byte, "bbbb" wins item 0 although "a" is more likely overall
        TaskItem first = TaskItem.multipleChoice("Q", List.of("a", "bbbb"), 1);
        TaskItem second = TaskItem.multipleChoice("Q", List.of("a", "bbbb"), 0);
        TaskItem third = TaskItem.multipleChoice("Q", List.of("é", "cc"), 0); // é is 2 bytes in UTF-8
        List<TaskItem> items = List.of(first, second, third);
        List<ChoiceScores> s = List.of(scores(-2, -4), scores(-1, -8), scores(-3, -3.5));
        TaskResult r = TaskEvaluator.metrics(Task.ARC_EASY, items, s);
        // acc: argmax ll → 0, 0, 0 vs gold 1, 0, 0
        assertEquals(2.0 / 3, r.acc(), 1e-12);
        // acc_norm: per byte → (-2, -1)→1, (-1, -2)→0, (-1.5, -1.75)→0
        assertEquals(1.0, r.accNorm(), 1e-12);
        // stderr of the mean with the sample deviation: x = (0, 1, 1), var = 1/3, /3
        assertEquals(Math.sqrt(1.0 / 3 / 3), r.accStderr(), 1e-12);
        assertEquals(0.0, r.accNormStderr(), 1e-12);
        assertTrue(Double.isNaN(r.perplexity()));

        TaskResult wino = TaskEvaluator.metrics(Task.WINOGRANDE, items, s);
        assertTrue(Double.isNaN(wino.accNorm()), "the harness reports no acc_norm for WinoGrande");
    }

    @Test
    void tiesGoToTheFirstChoiceAsNumpyArgmax() {
        TaskItem item = TaskItem.multipleChoice("Q", List.of("x", "y"), 1);
        assertEquals(0.0, TaskEvaluator.metrics(Task.PIQA, List.of(item), List.of(scores(-1, -1))).acc());
    }

    @Test
    void lambadaReportsGreedyAccuracyAndPerplexity() {
        Task t = Task.LAMBADA_OPENAI;
        TaskItem a = t.read(JsonParser.parseString("{\"text\": \"the cat sat on the mat\"}").getAsJsonObject());
        assertEquals(new TaskItem.Request("the cat sat on the", " mat"), a.requests().getFirst());
        List<ChoiceScores> s = List.of(new ChoiceScores(new double[] {-1}, new boolean[] {true}),
                new ChoiceScores(new double[] {-3}, new boolean[] {false}));
        TaskResult r = TaskEvaluator.metrics(t, List.of(a, a), s);
        assertEquals(0.5, r.acc(), 1e-12);
        assertEquals(Math.exp(2), r.perplexity(), 1e-9);
        assertEquals(Math.exp(2) * 1.0, r.perplexityStderr(), 1e-9); // stderr of (-1, -3): sqrt(2 / 1 / 2) = 1
    }

    @Test
    void requestsAreBuiltAsTheHarnessBuildsThem() {
        TaskItem arc = Task.ARC_CHALLENGE.read(JsonParser.parseString("""
                {"id": "x", "question": "What melts ice?", "choices": {"text": ["salt", "sand"], "label": ["A", "B"]}, "answerKey": "A"}
                """).getAsJsonObject());
        assertEquals(new TaskItem.Request("Question: What melts ice?\nAnswer:", " salt"), arc.requests().getFirst());
        assertEquals(0, arc.gold());

        TaskItem hs = Task.HELLASWAG.read(JsonParser.parseString("""
                {"activity_label": "Baking cookies", "ctx_a": "A woman [header] mixes flour.", "ctx_b": "SHE then",
                 "endings": [" adds  sugar [title] Step two", "leaves."], "label": "1"}
                """).getAsJsonObject());
        // ctx_b capitalized the Python way (rest lower-cased), brackets removed, " [title]" becomes ". ", double spaces single
        assertEquals(new TaskItem.Request("Baking cookies: A woman mixes flour. She then", " adds sugar. Step two"),
                hs.requests().getFirst());
        assertEquals(List.of("adds sugar. Step two", "leaves."), hs.choices());
        assertEquals(1, hs.gold());

        TaskItem piqa = Task.PIQA.read(JsonParser.parseString("{\"goal\": \"Dry a towel\", \"sol1\": \"hang it\", \"sol2\": \"wet it\", \"label\": 0}")
                .getAsJsonObject());
        assertEquals(new TaskItem.Request("Question: Dry a towel\nAnswer:", " wet it"), piqa.requests().get(1));

        TaskItem wino = Task.WINOGRANDE.read(JsonParser.parseString("""
                {"sentence": "Sarah gave Maria a book because _ had finished it.", "option1": "Sarah", "option2": "Maria", "answer": "1"}
                """).getAsJsonObject());
        assertEquals(List.of(new TaskItem.Request("Sarah gave Maria a book because Sarah", " had finished it."),
                new TaskItem.Request("Sarah gave Maria a book because Maria", " had finished it.")), wino.requests());
        assertEquals(0, wino.gold());
    }

    @Test
    void badRecordsSayWhichField() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Task.PIQA.read(JsonParser.parseString("{\"goal\": \"g\", \"sol1\": \"a\", \"label\": 0}").getAsJsonObject()));
        assertEquals("field \"sol2\" is missing", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Task.WINOGRANDE.read(JsonParser.parseString(
                "{\"sentence\": \"no blank\", \"option1\": \"a\", \"option2\": \"b\", \"answer\": \"1\"}").getAsJsonObject()));
        assertTrue(e.getMessage().contains("blank"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Task.HELLASWAG.read(JsonParser.parseString(
                "{\"activity_label\": \"a\", \"ctx_a\": \"b\", \"ctx_b\": \"c\", \"endings\": [\"x\", \"y\"], \"label\": \"2\"}")
                .getAsJsonObject()));
        assertTrue(e.getMessage().contains("\"label\" is 2; expected 0..1"), e.getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Task.parse("mmlu")).getMessage().contains("arc_easy"));
        assertEquals(Task.LAMBADA_OPENAI, Task.parse("lambada"));
    }
}
