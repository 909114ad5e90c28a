package dev.wush.it;

import java.nio.file.Path;

/** Where the shared checkpoints and data sets are: {@code ../shared} beside the checkout. */
final class Shared {

    static final Path DIR = Path.of(System.getProperty("wush.shared.dir", "../../shared")).toAbsolutePath().normalize();
    static final Path MODELS = DIR.resolve("models");
    static final Path TINYSTORIES_EVAL = DIR.resolve("data/tinystories/eval.txt");
    static final Path WIKITEXT_TEST = DIR.resolve("data/wikitext-2-raw/wiki.test.raw");

    private Shared() {}

    static Path model(String name) {
        return MODELS.resolve(name);
    }
}
