package dev.wush.io;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads JSON (config.json, shard indexes, safetensors headers) strictly, as Python's {@code json}
 * module would, with errors that name the file and the place ({@code config.json: invalid JSON at line 3
 * column 7: …}) instead of the parser's class or its help links.
 */
public final class JsonFiles {

    private JsonFiles() {}

    /** The JSON object in {@code file}; anything else (missing, not UTF-8, not JSON, not an object) is an error. */
    public static JsonObject readObject(Path file) throws IOException {
        TextFiles.check(file, file.toString());
        String text = TextFiles.decode(Files.readAllBytes(file), file.toString());
        return object(parse(text, file.toString()), file.toString());
    }

    /** Parses one JSON value (strict: no comments, unquoted names, NaN or trailing text); {@code who} starts messages. */
    public static JsonElement parse(String text, String who) throws CheckpointException {
        JsonReader reader = new JsonReader(new StringReader(text));
        reader.setStrictness(Strictness.STRICT);
        try {
            JsonElement value = JsonParser.parseReader(reader); // keeps STRICT (only LEGACY_STRICT is relaxed)
            if (reader.peek() != JsonToken.END_DOCUMENT) {
                throw new CheckpointException(who + ": invalid JSON: text after the value at " + where(reader));
            }
            return value;
        } catch (JsonParseException | IOException e) {
            if (e instanceof CheckpointException c) {
                throw c;
            }
            throw new CheckpointException(who + ": invalid JSON: " + describe(e));
        } catch (StackOverflowError e) {
            throw new CheckpointException(who + ": invalid JSON: nested too deeply");
        }
    }

    /** {@code value} as an object, or an error saying what it is instead. */
    public static JsonObject object(JsonElement value, String who) throws CheckpointException {
        if (value == null || !value.isJsonObject()) {
            throw new CheckpointException(who + ": expected a JSON object, found " + kind(value));
        }
        return value.getAsJsonObject();
    }

    /**
     * The value of a JSON number that is a whole number within {@code long}; null for anything else
     * (a string, a fraction, {@code 1e400}). Gson's own {@code getAsLong} would truncate {@code 1.5} to 1.
     */
    public static Long exactLong(JsonElement value) {
        if (value == null || !value.isJsonPrimitive() || !value.getAsJsonPrimitive().isNumber()) {
            return null;
        }
        try {
            return new java.math.BigDecimal(value.getAsJsonPrimitive().getAsString()).longValueExact();
        } catch (NumberFormatException | ArithmeticException e) {
            return null;
        }
    }

    /** The value of a JSON number as a double, or null for anything else (a string, a boolean). */
    public static Double number(JsonElement value) {
        if (value == null || !value.isJsonPrimitive() || !value.getAsJsonPrimitive().isNumber()) {
            return null;
        }
        try {
            return Double.parseDouble(value.getAsJsonPrimitive().getAsString());
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** "an array", "a string", … for messages. */
    public static String kind(JsonElement value) {
        if (value == null || value.isJsonNull()) {
            return "null";
        }
        if (value.isJsonObject()) {
            return "an object";
        }
        if (value.isJsonArray()) {
            return "an array";
        }
        var p = value.getAsJsonPrimitive();
        return p.isBoolean() ? "a boolean" : p.isNumber() ? "a number" : "a string";
    }

    /** The parser's own words without its exception class names and help links, e.g. "Unterminated object at line 1 column 9". */
    static String describe(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String message = root.getMessage() == null ? "malformed" : root.getMessage();
        message = message.lines().filter(l -> !l.startsWith("See ")).findFirst().orElse("malformed");
        message = message.replaceAll("^([a-z]+\\.)+[A-Za-z]*(Exception|Error):\\s*", "");
        if (root instanceof java.io.EOFException || message.startsWith("End of input")) {
            return "the text ends early (" + message + ")";
        }
        return message;
    }

    private static String where(JsonReader reader) {
        String s = reader.toString(); // "JsonReader at line L column C path P"
        int at = s.indexOf(" at line ");
        return at < 0 ? "the end" : s.substring(at + 4);
    }
}
