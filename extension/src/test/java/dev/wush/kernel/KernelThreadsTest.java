package dev.wush.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** One thread budget for the engine and the kernels. */
class KernelThreadsTest {

    private final int before = KernelThreads.threads();

    @AfterEach
    void restore() {
        KernelThreads.set(before);
    }

    @Test
    void theBudgetSetsTheEnginesIntraOpThreadsToo() {
        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            manager.zeros(new ai.djl.ndarray.types.Shape(2)).close();
            KernelThreads.set(3);
            assertEquals(3, KernelThreads.threads());
            assertEquals(3, JniUtils.getNumThreads());
            KernelThreads.set(1);
            assertEquals(1, JniUtils.getNumThreads());
        }
    }

    @Test
    void theDefaultIsThePhysicalCoresAndNeverZero() {
        int cores = KernelThreads.physicalCores();
        assertTrue(cores >= 1 && cores <= Runtime.getRuntime().availableProcessors(), "physical cores " + cores);
    }

    @Test
    void aBudgetBelowOneIsAClearError() {
        var e = assertThrows(IllegalArgumentException.class, () -> KernelThreads.set(0));
        assertEquals("the number of threads must be at least 1, got 0", e.getMessage());
    }

    @Test
    void splitRunsEveryItemExactlyOnceAtAnyBudget() {
        for (int budget : new int[] {1, 2, 5}) {
            KernelThreads.set(budget);
            for (int n : new int[] {1, 2, 7, 16, 17, 1000, 4099}) {
                for (int repeat = 0; repeat < 40; repeat++) { // the caller's share adapts from call to call
                    AtomicIntegerArray seen = new AtomicIntegerArray(n);
                    KernelThreads.split(n, 1 << 20, (from, to) -> {
                        for (long i = from; i < to; i++) {
                            seen.incrementAndGet((int) i);
                        }
                    });
                    for (int i = 0; i < n; i++) {
                        assertEquals(1, seen.get(i), "budget " + budget + ", n " + n + ", item " + i + ", call " + repeat);
                    }
                }
            }
        }
    }

    @Test
    void partBoundsAreMultiplesOfFourInsideTheRange() {
        for (long n : new long[] {2, 3, 15, 16, 17, 1000, 4099}) {
            for (double f = 0; f <= 1; f += 0.05) {
                long cut = KernelThreads.cut(n, f);
                assertTrue(cut >= 1 && cut <= n - 1, "n " + n + ", fraction " + f + ": " + cut);
                if (n >= 16) {
                    assertEquals(0, cut % 4, "n " + n + ", fraction " + f + ": " + cut);
                }
            }
        }
    }

    @Test
    void aFailingPartFailsTheCallAfterEveryPartHasFinished() {
        KernelThreads.set(4);
        AtomicIntegerArray done = new AtomicIntegerArray(4);
        var e = assertThrows(IllegalStateException.class, () -> KernelThreads.split(4, 1 << 20, (from, to) -> {
            if (from == 2) {
                throw new IllegalStateException("part 2");
            }
            done.incrementAndGet((int) from);
        }));
        assertEquals("part 2", e.getMessage());
        assertEquals(3, done.get(0) + done.get(1) + done.get(3), "the other parts ran");
    }

    @Test
    void openMpThreadsAreMadePassiveBeforeTheEngineLoadsUnlessTheUserChose() throws Exception {
        assertEquals("PASSIVE true", child(null));
        assertEquals("active false", child("active"));
    }

    /** What {@link PrintOmpPolicy} prints in a fresh JVM, with OMP_WAIT_POLICY set to {@code policy} or unset. */
    static String child(String policy) throws Exception {
        Path javaBin = Path.of(System.getProperty("java.home"), "bin", "java");
        ProcessBuilder b = new ProcessBuilder(javaBin.toString(), "--enable-native-access=ALL-UNNAMED", "-Dai.djl.offline=true",
                "-cp", System.getProperty("java.class.path"), PrintOmpPolicy.class.getName()).redirectErrorStream(true);
        b.environment().remove("OMP_WAIT_POLICY");
        if (policy != null) {
            b.environment().put("OMP_WAIT_POLICY", policy);
        }
        Process p = b.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        return out.lines().reduce((x, y) -> y).orElse("");
    }
}
