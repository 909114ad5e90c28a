package dev.wush.zoo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wush.zoo.hub.FakeHub;
import dev.wush.zoo.hub.HfHub;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelResolverTest {

    static final Path MODELS = Path.of(System.getProperty("wush.shared.dir", "../../shared"), "models");

    @TempDir
    Path tmp;

    @Test
    void directoryZooNameAndHubId() throws IOException {
        try (FakeHub server = new FakeHub()) {
            server.addModelDir("someone/babyllama", "ab".repeat(20), MODELS.resolve("babyllama105"), null);
            HfHub hub = new HfHub.Builder().endpoint(server.endpoint()).hubCache(tmp.resolve("hub")).build();
            ModelResolver resolver = new ModelResolver(Map.of(), List.of(tmp.resolve("none"), MODELS), hub);
            assertEquals(MODELS.resolve("stories260K"), resolver.resolve(MODELS.resolve("stories260K").toString()));
            assertEquals(MODELS.resolve("stories260K"), resolver.resolve("stories260K"));
            assertEquals(MODELS.resolve("stories260K"), resolver.resolve("STORIES260K"));
            Path downloaded = resolver.resolve("hf:someone/babyllama");
            assertTrue(Files.isRegularFile(downloaded.resolve("model.safetensors")));

            // a zoo entry that is not local comes from the hub repository its variable names
            ModelResolver remote = new ModelResolver(Map.of("WUSH_HUB_BABYLLAMA105", "someone/babyllama"), List.of(tmp), hub);
            assertEquals(downloaded, remote.resolve("babyllama105"));
        }
    }

    @Test
    void explainsWhereItLooked() {
        HfHub hub = new HfHub.Builder().hubCache(tmp).offline(true).build();
        ModelResolver resolver = new ModelResolver(Map.of(), List.of(tmp), hub);
        IOException e = assertThrows(IOException.class, () -> resolver.resolve("stories260K"));
        assertTrue(e.getMessage().contains("WUSH_MODELS_DIR") && e.getMessage().contains("WUSH_HUB_STORIES260K"), e.getMessage());
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class, () -> resolver.resolve("gpt-5"));
        assertTrue(unknown.getMessage().contains("gpt-5") && unknown.getMessage().contains("stories260K"), unknown.getMessage());
        IOException notModel = assertThrows(IOException.class, () -> resolver.resolve(tmp.toString()));
        assertTrue(notModel.getMessage().contains("config.json"), notModel.getMessage());
    }
}
