package dev.wush.zoo.synth;

import com.google.gson.JsonArray;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A byte-level BPE {@code tokenizer.json} whose vocabulary has exactly the model's size, so that
 * every token id of a synthetic checkpoint is a real token: the 256 byte symbols, then merged tokens
 * built from letters and the space symbol (two symbols, then three, …, each merge joining an earlier
 * token and one symbol), and the special tokens at the ids the config names (Llama 3's
 * {@code <|begin_of_text|>} and friends at 128000 and above).
 */
final class SyntheticTokenizer {

    private SyntheticTokenizer() {}

    /**
     * @param specials special tokens by id, each id below {@code vocab}; every other id is a regular token
     */
    static JsonObject build(int vocab, Map<Integer, String> specials) {
        List<String> bytes = byteSymbols();
        int regular = vocab - specials.size();
        if (regular < bytes.size()) {
            throw new IllegalArgumentException("a vocabulary of " + vocab + " cannot hold the 256 byte symbols and "
                    + specials.size() + " special tokens");
        }
        // regular tokens in id order, skipping the special ids
        Map<String, Integer> ids = new LinkedHashMap<>();
        List<String> tokens = new ArrayList<>(bytes);
        JsonArray merges = new JsonArray();
        List<String> alphabet = new ArrayList<>();
        for (char c = 'a'; c <= 'z'; c++) {
            alphabet.add(String.valueOf(c));
        }
        alphabet.add("\u0120"); // the byte-level symbol of a space
        List<String> level = alphabet;
        while (tokens.size() < regular) {
            List<String> longer = new ArrayList<>();
            for (String prefix : level) {
                for (String s : alphabet) {
                    if (tokens.size() == regular) {
                        break;
                    }
                    String t = prefix + s;
                    tokens.add(t);
                    longer.add(t);
                    merges.add(prefix + " " + s);
                }
            }
            level = longer;
        }
        int id = 0;
        for (String t : tokens) {
            while (specials.containsKey(id)) {
                id++;
            }
            ids.put(t, id++);
        }
        JsonObject vocabJson = new JsonObject();
        ids.forEach(vocabJson::addProperty);
        JsonArray added = new JsonArray();
        specials.forEach((sid, content) -> {
            vocabJson.addProperty(content, sid);
            JsonObject a = new JsonObject();
            a.addProperty("id", sid);
            a.addProperty("content", content);
            a.addProperty("single_word", false);
            a.addProperty("lstrip", false);
            a.addProperty("rstrip", false);
            a.addProperty("normalized", false);
            a.addProperty("special", true);
            added.add(a);
        });

        JsonObject model = new JsonObject();
        model.addProperty("type", "BPE");
        model.add("dropout", JsonNull.INSTANCE);
        model.add("unk_token", JsonNull.INSTANCE);
        model.add("continuing_subword_prefix", JsonNull.INSTANCE);
        model.add("end_of_word_suffix", JsonNull.INSTANCE);
        model.addProperty("fuse_unk", false);
        model.addProperty("byte_fallback", false);
        model.addProperty("ignore_merges", false);
        model.add("vocab", vocabJson);
        model.add("merges", merges);

        JsonObject byteLevel = new JsonObject();
        byteLevel.addProperty("type", "ByteLevel");
        byteLevel.addProperty("add_prefix_space", false);
        byteLevel.addProperty("trim_offsets", true);
        byteLevel.addProperty("use_regex", true);

        JsonObject root = new JsonObject();
        root.addProperty("version", "1.0");
        root.add("truncation", JsonNull.INSTANCE);
        root.add("padding", JsonNull.INSTANCE);
        root.add("added_tokens", added);
        root.add("normalizer", JsonNull.INSTANCE);
        root.add("pre_tokenizer", byteLevel);
        root.add("post_processor", JsonNull.INSTANCE);
        root.add("decoder", byteLevel.deepCopy());
        root.add("model", model);
        return root;
    }

    /** GPT-2's printable stand-ins for the 256 byte values, in byte order. */
    static List<String> byteSymbols() {
        List<String> symbols = new ArrayList<>(256);
        int extra = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            symbols.add(String.valueOf((char) (printable ? b : 256 + extra++)));
        }
        return symbols;
    }
}
