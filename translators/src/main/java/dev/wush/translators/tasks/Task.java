package dev.wush.translators.tasks;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/**
 * The zero-shot tasks of EleutherAI's lm-evaluation-harness that the WUSH papers report, each reading one line of the
 * dataset's JSON-lines export (field names as the Hugging Face datasets publish them) into a {@link TaskItem} exactly
 * as the harness builds its requests.
 */
public enum Task {
    /** {@code allenai/ai2_arc}, ARC-Easy: "Question: …\nAnswer:" then " " + choice. */
    ARC_EASY("arc_easy", true, Task::arc),
    /** {@code allenai/ai2_arc}, ARC-Challenge: as ARC-Easy. */
    ARC_CHALLENGE("arc_challenge", true, Task::arc),
    /** {@code Rowan/hellaswag}: the harness's preprocessing of context and endings. */
    HELLASWAG("hellaswag", true, Task::hellaswag),
    /** {@code ybisk/piqa}: "Question: {goal}\nAnswer:" then " " + solution. */
    PIQA("piqa", true, Task::piqa),
    /** {@code allenai/winogrande}: partial scoring, each option fills the blank and the shared rest is scored. */
    WINOGRANDE("winogrande", false, Task::winogrande),
    /** {@code EleutherAI/lambada_openai}: the last word after the rest; accuracy (greedy) and perplexity. */
    LAMBADA_OPENAI("lambada_openai", false, Task::lambada);

    private final String label;
    private final boolean reportsAccNorm;
    private final Function<JsonObject, TaskItem> reader;

    Task(String label, boolean reportsAccNorm, Function<JsonObject, TaskItem> reader) {
        this.label = label;
        this.reportsAccNorm = reportsAccNorm;
        this.reader = reader;
    }

    /** The harness's task name, e.g. {@code arc_easy}. */
    public String label() {
        return label;
    }

    /** Whether the harness reports {@code acc_norm} for this task. */
    public boolean reportsAccNorm() {
        return reportsAccNorm;
    }

    /** True for LAMBADA, which scores one continuation by greedy match and perplexity. */
    public boolean isLoglikelihood() {
        return this == LAMBADA_OPENAI;
    }

    /** The task of a harness name ({@code arc_easy}, …; {@code lambada} stands for {@code lambada_openai}). */
    public static Task parse(String name) {
        String n = name.toLowerCase(Locale.ROOT).replace('-', '_');
        if (n.equals("lambada")) {
            return LAMBADA_OPENAI;
        }
        for (Task t : values()) {
            if (t.label.equals(n)) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown task '" + name + "'; known: " + labels());
    }

    /** All task names. */
    public static List<String> labels() {
        return java.util.Arrays.stream(values()).map(Task::label).toList();
    }

    /** One dataset record as the harness's requests; an {@link IllegalArgumentException} names a missing or bad field. */
    public TaskItem read(JsonObject record) {
        return reader.apply(record);
    }

    private static TaskItem arc(JsonObject o) {
        JsonObject choices = object(o, "choices");
        List<String> texts = strings(choices, "text");
        List<String> labels = strings(choices, "label");
        String answer = string(o, "answerKey");
        int gold = labels.indexOf(answer);
        if (gold < 0 || texts.size() != labels.size()) {
            throw new IllegalArgumentException("answerKey '" + answer + "' is not one of the labels " + labels);
        }
        return TaskItem.multipleChoice("Question: " + string(o, "question") + "\nAnswer:", texts, gold);
    }

    private static TaskItem hellaswag(JsonObject o) {
        String ctx = string(o, "ctx_a") + " " + capitalize(string(o, "ctx_b"));
        String query = hellaswagPreprocess(string(o, "activity_label") + ": " + ctx);
        List<String> endings = strings(o, "endings").stream().map(Task::hellaswagPreprocess).toList();
        return TaskItem.multipleChoice(query, endings, index(o, "label", endings.size(), 0));
    }

    /** The harness's clean-up of HellaSwag text: WikiHow's bracketed artifacts out, double spaces single. */
    static String hellaswagPreprocess(String text) {
        String t = text.strip();
        t = t.replace(" [title]", ". ");
        t = t.replaceAll("\\[.*?\\]", "");
        return t.replace("  ", " ");
    }

    /** Python's {@code str.capitalize}: the first character upper case, the rest lower case. */
    static String capitalize(String s) {
        if (s.isEmpty()) {
            return s;
        }
        int first = s.offsetByCodePoints(0, 1);
        return s.substring(0, first).toUpperCase(Locale.ROOT) + s.substring(first).toLowerCase(Locale.ROOT);
    }

    private static TaskItem piqa(JsonObject o) {
        List<String> solutions = List.of(string(o, "sol1"), string(o, "sol2"));
        return TaskItem.multipleChoice("Question: " + string(o, "goal") + "\nAnswer:", solutions, index(o, "label", 2, 0));
    }

    private static TaskItem winogrande(JsonObject o) {
        String sentence = string(o, "sentence");
        int blank = sentence.indexOf('_');
        if (blank < 0) {
            throw new IllegalArgumentException("field \"sentence\" has no blank '_'");
        }
        String rest = " " + sentence.substring(blank + 1).strip();
        List<String> options = List.of(string(o, "option1"), string(o, "option2"));
        List<TaskItem.Request> requests = new ArrayList<>();
        List<String> contexts = new ArrayList<>();
        for (String option : options) {
            String context = sentence.substring(0, blank) + option;
            contexts.add(context);
            requests.add(new TaskItem.Request(context, rest));
        }
        return new TaskItem(requests, index(o, "answer", 2, 1), contexts);
    }

    private static TaskItem lambada(JsonObject o) {
        String text = string(o, "text");
        int space = text.lastIndexOf(' ');
        if (space < 0) {
            throw new IllegalArgumentException("field \"text\" has a single word: nothing to predict it from");
        }
        return new TaskItem(List.of(new TaskItem.Request(text.substring(0, space), text.substring(space))), 0,
                List.of(text.substring(space + 1)));
    }

    private static JsonElement field(JsonObject o, String name) {
        JsonElement e = o.get(name);
        if (e == null || e.isJsonNull()) {
            throw new IllegalArgumentException("field \"" + name + "\" is missing");
        }
        return e;
    }

    private static String string(JsonObject o, String name) {
        JsonElement e = field(o, name);
        if (!e.isJsonPrimitive()) {
            throw new IllegalArgumentException("field \"" + name + "\" is not a string");
        }
        return e.getAsString();
    }

    private static JsonObject object(JsonObject o, String name) {
        JsonElement e = field(o, name);
        if (!e.isJsonObject()) {
            throw new IllegalArgumentException("field \"" + name + "\" is not an object");
        }
        return e.getAsJsonObject();
    }

    private static List<String> strings(JsonObject o, String name) {
        JsonElement e = field(o, name);
        if (!e.isJsonArray() || e.getAsJsonArray().isEmpty()) {
            throw new IllegalArgumentException("field \"" + name + "\" is not a non-empty list");
        }
        List<String> out = new ArrayList<>();
        for (JsonElement x : (JsonArray) e) {
            if (!x.isJsonPrimitive()) {
                throw new IllegalArgumentException("field \"" + name + "\" holds something other than strings");
            }
            out.add(x.getAsString());
        }
        return out;
    }

    /** A label field ("0", 1, "2", …) minus {@code base}, within {@code [0, count)}. */
    private static int index(JsonObject o, String name, int count, int base) {
        String s = string(o, name);
        int i;
        try {
            i = Integer.parseInt(s.strip()) - base;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("field \"" + name + "\" is '" + s + "', not a whole number");
        }
        if (i < 0 || i >= count) {
            throw new IllegalArgumentException("field \"" + name + "\" is " + s + "; expected " + base + ".." + (base + count - 1));
        }
        return i;
    }
}
