package dev.wush.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The {@code wush.kernels} system property, in fresh JVMs (the choice is made once per JVM). */
class KernelChoiceTest {

    static String choose(String mode) throws IOException, InterruptedException {
        return choose(mode, System.getProperty("java.class.path"));
    }

    static String choose(String mode, String classPath, String... properties) throws IOException, InterruptedException {
        return choose(java.util.Map.of(), mode, classPath, properties);
    }

    static String choose(java.util.Map<String, String> env, String mode, String classPath, String... properties)
            throws IOException, InterruptedException {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        List<String> command = new ArrayList<>(List.of(java.toString(), "--enable-native-access=ALL-UNNAMED", "-Dwush.kernels=" + mode));
        command.addAll(List.of(properties));
        command.addAll(List.of("-cp", classPath, PrintKernels.class.getName()));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().keySet().removeIf(name -> name.startsWith("WUSH_KERNELS"));
        builder.environment().putAll(env);
        Process p = builder.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child JVM finished");
        return out.lines().reduce((a, b) -> b).orElse(""); // the last line: what PrintKernels printed
    }

    @Test
    void javaForcesTheFallbackAndNativeOrAutoTakeTheLibrary() throws Exception {
        assertEquals("java", choose("java"));
        assertTrue(choose("native").startsWith("native"));
        assertTrue(choose("auto").startsWith("native"));
    }

    @Test
    void withoutTheLibraryAutoFallsBackToJavaAndNativeSaysWhy(@TempDir Path tmp) throws Exception {
        // the main classes as a jar built without gcc would have them: everything but the .so
        Path classes = Path.of(Fp4Kernels.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Path copy = tmp.resolve("classes");
        try (Stream<Path> files = Files.walk(classes)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                if (Files.isRegularFile(f) && !f.toString().endsWith(".so")) {
                    Path target = copy.resolve(classes.relativize(f).toString());
                    Files.createDirectories(target.getParent());
                    Files.copy(f, target);
                }
            }
        }
        String classPath = System.getProperty("java.class.path").replace(classes.toString(), copy.toString());
        assertTrue(classPath.contains(copy.toString()), classPath);
        assertEquals("java", choose("auto", classPath));
        String error = choose("native", classPath);
        assertTrue(error.startsWith("error: wush.kernels (WUSH_KERNELS) is native, but ") && error.contains("is not in the jar"), error);
    }

    @Test
    void theInstructionSetCanBeForcedLowerButNotHigherOrUnknown() throws Exception {
        String cp = System.getProperty("java.class.path");
        assertEquals("native (scalar)", choose("auto", cp, "-Dwush.kernels.isa=scalar"));
        String best = Fp4Kernels.nativeKernels().name();
        assertEquals(best, choose("auto", cp, "-Dwush.kernels.isa=auto"));
        if (!best.equals("native (scalar)")) {
            assertEquals("native (avx2)", choose("native", cp, "-Dwush.kernels.isa=avx2"));
        }
        if (!best.equals("native (avx512-vnni)")) {
            String error = choose("auto", cp, "-Dwush.kernels.isa=avx512-vnni");
            assertTrue(error.startsWith("error: wush.kernels.isa (WUSH_KERNELS_ISA) = avx512-vnni: this CPU runs the kernels at "), error);
        }
        assertEquals("error: wush.kernels.isa: unknown instruction set 'avx1024'; known: scalar, avx2, avx512-vnni",
                choose("auto", cp, "-Dwush.kernels.isa=avx1024"));
    }

    @Test
    void anUnknownChoiceIsAClearError() throws Exception {
        assertEquals("error: wush.kernels (WUSH_KERNELS): expected auto, native or java, got 'gpu'", choose("gpu"));
    }

    @Test
    void theEnvironmentVariableWinsOverThePropertyAsInDjl() throws Exception {
        String cp = System.getProperty("java.class.path");
        assertEquals("native (scalar)", choose(java.util.Map.of("WUSH_KERNELS_ISA", "scalar"), "auto", cp, "-Dwush.kernels.isa=auto"));
        assertEquals("java", choose(java.util.Map.of("WUSH_KERNELS", "java"), "native", cp));
    }
}
