package dev.wush.translators.tasks;

import com.google.gson.JsonElement;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import dev.wush.io.TextFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** A task's dataset export in JSON lines: one record per line, blank lines skipped. */
public final class TaskReader {

    private TaskReader() {}

    /**
     * The items of {@code file}, at most {@code limit} (0: all). A malformed line is an {@link IllegalArgumentException}
     * naming the file and the line number.
     */
    public static List<TaskItem> read(Task task, Path file, int limit) throws IOException {
        String text = TextFiles.read(file, task.label());
        List<TaskItem> items = new ArrayList<>();
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length && (limit <= 0 || items.size() < limit); i++) {
            String line = lines[i].strip();
            if (line.isEmpty()) {
                continue;
            }
            try {
                JsonElement record = JsonParser.parseString(line);
                if (!record.isJsonObject()) {
                    throw new IllegalArgumentException("not a JSON object");
                }
                items.add(task.read(record.getAsJsonObject()));
            } catch (JsonParseException e) {
                throw new IllegalArgumentException(file + ":" + (i + 1) + ": not valid JSON (" + firstLine(e.getMessage()) + ")", e);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(file + ":" + (i + 1) + ": " + task.label() + " record: " + e.getMessage(), e);
            }
        }
        if (items.isEmpty()) {
            throw new IllegalArgumentException(file + ": no " + task.label() + " records");
        }
        return items;
    }

    private static String firstLine(String s) {
        return s == null ? "" : s.lines().findFirst().orElse("");
    }
}
