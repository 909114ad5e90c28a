package dev.wush.kernel;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import dev.wush.Settings;
import ai.djl.engine.Engine;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

/**
 * One thread budget for inference: the packed kernels' pool and PyTorch's intra-op threads are set
 * together, so that the two never run more threads than the budget between them (an engine GEMM and a
 * packed kernel never overlap: a forward pass calls them one after another).
 *
 * <p>The default is the number of physical cores available to this JVM (hyper-threads share a core's
 * vector units, which both the kernels and the engine's GEMMs saturate). {@link #set} changes it for the
 * whole process: PyTorch's intra-op setting is process-wide too. The system property or environment
 * variable {@code WUSH_THREADS} ({@code wush.threads}) sets the budget at start-up.
 *
 * <p>OpenMP: PyTorch's CPU threads spin for a while after each parallel region by default, taking the
 * cores the packed kernels run on next (measured: decode 1.5× slower). {@link #preferPassiveOpenMp()} sets
 * {@code OMP_WAIT_POLICY=PASSIVE} for the process when it runs before the engine's native library loads
 * and the user has not chosen a policy; this class calls it when first used.
 */
public final class KernelThreads {

    private static final Logger LOG = LoggerFactory.getLogger(KernelThreads.class);


    private static final Object LOCK = new Object();
    private static volatile int threads;
    private static volatile KernelPool pool; // threads − 1 workers: the calling thread takes one part
    private static volatile boolean passiveSet;
    private static boolean warned; // under LOCK
    /** Fraction of the gap between caller and last worker corrected per split call. */
    static final double ADAPT_RATE = 0.1;
    private static volatile double callerShare; // the caller's adapted share of a split into sharedFor parts
    private static volatile int sharedFor;

    static {
        preferPassiveOpenMp();
    }

    private KernelThreads() {}

    /** The current budget, configuring it on first use. */
    public static int threads() {
        if (threads == 0) {
            synchronized (LOCK) {
                if (threads == 0) {
                    String configured = setting();
                    int n = configured == null ? physicalCores() : parse(configured);
                    apply(n);
                }
            }
        }
        return threads;
    }

    /**
     * Sets the budget to {@code n} threads: the kernels' pool and, when the PyTorch engine is in use, its
     * intra-op threads.
     *
     * @throws IllegalArgumentException when n is below 1
     */
    public static void set(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("the number of threads must be at least 1, got " + n);
        }
        synchronized (LOCK) {
            apply(n);
        }
    }

    private static void apply(int n) {
        if (n != threads) {
            KernelPool old = pool;
            pool = n > 1 ? new KernelPool(n - 1, preferPassiveOpenMp()) : null;
            threads = n;
            if (old != null) {
                old.shutdown(); // its workers stop once idle; new work goes to the new pool
            }
        }
        setEngineThreads(n);
    }

    private static void setEngineThreads(int n) {
        if (!Engine.hasEngine("PyTorch")) {
            return;
        }
        Engine.getEngine("PyTorch"); // loads the native library before the setting
        if (ai.djl.pytorch.jni.JniUtils.getNumThreads() != n) {
            ai.djl.pytorch.jni.JniUtils.setNumThreads(n);
        }
    }

    /**
     * Sets {@code OMP_WAIT_POLICY=PASSIVE} in the process environment unless it is set already or
     * OpenMP has been loaded (then it would have no effect; a warning says how to set it). Returns whether
     * the policy is passive from now on. Call it before the first NDManager is created.
     */
    public static boolean preferPassiveOpenMp() {
        String policy = System.getenv("OMP_WAIT_POLICY");
        if (policy != null) {
            return policy.equalsIgnoreCase("passive");
        }
        synchronized (LOCK) {
            if (passiveSet) {
                return true;
            }
            if (openMpLoaded()) {
                if (warned) {
                    return false;
                }
                warned = true;
                LOG.warn("the engine's OpenMP runtime was loaded before the thread budget was set:"
                        + " its threads spin between operations and slow the packed kernels down; set OMP_WAIT_POLICY=PASSIVE"
                        + " in the environment, or use KernelThreads before creating the first NDManager");
                return false;
            }
            try {
                Linker linker = Linker.nativeLinker();
                MethodHandle setenv = linker.downcallHandle(linker.defaultLookup().find("setenv").orElseThrow(),
                        FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
                try (Arena arena = Arena.ofConfined()) {
                    passiveSet = (int) setenv.invokeExact(arena.allocateFrom("OMP_WAIT_POLICY"), arena.allocateFrom("PASSIVE"), 0) == 0;
                }
            } catch (Throwable e) { // no native access, or no setenv: the default policy stays
                LOG.debug("could not set OMP_WAIT_POLICY", e);
            }
            return passiveSet;
        }
    }

    /** Whether an OpenMP runtime is mapped into this process (Linux; false where that cannot be told). */
    private static boolean openMpLoaded() {
        try (java.util.stream.Stream<String> maps = Files.lines(Path.of("/proc/self/maps"))) {
            return maps.anyMatch(line -> line.contains("libgomp") || line.contains("libiomp") || line.contains("libomp"));
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    private static String setting() {
        return Settings.get(Settings.THREADS);
    }

    private static int parse(String value) {
        try {
            int n = Integer.parseInt(value.trim());
            if (n >= 1) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(Settings.describe(Settings.THREADS) + " must be a whole number of at least 1, got '" + value + "'");
    }

    /**
     * Physical cores among the CPUs this JVM may use: the available processors divided by the hardware
     * threads per core that Linux reports; the available processors where it reports nothing.
     */
    public static int physicalCores() {
        int logical = Runtime.getRuntime().availableProcessors();
        Set<String> siblings = new HashSet<>();
        Path cpus = Path.of("/sys/devices/system/cpu");
        int perCore = 1;
        try {
            String list = Files.readString(cpus.resolve("cpu0/topology/thread_siblings_list")).trim();
            for (String part : list.split(",")) {
                String[] range = part.split("-");
                int from = Integer.parseInt(range[0]);
                int to = range.length > 1 ? Integer.parseInt(range[1]) : from;
                for (int c = from; c <= to; c++) {
                    siblings.add(Integer.toString(c));
                }
            }
            perCore = Math.max(1, siblings.size());
        } catch (IOException | RuntimeException e) {
            perCore = 1; // not Linux, or no topology: count every processor
        }
        return Math.max(1, logical / perCore);
    }

    /** A range [from, to) of rows or output features. */
    @FunctionalInterface
    public interface Range {
        void run(long from, long to);
    }

    /**
     * Runs {@code [0, n)} in contiguous parts on the budget's threads when there is enough work to share
     * ({@code workPerItem}: multiply-adds per item); the calling thread runs the first part itself, whose size
     * adapts so that it finishes together with the workers (see {@link #callerShare}). Part bounds are
     * multiples of 4 where n allows.
     */
    public static void split(long n, long workPerItem, Range range) {
        int budget = threads();
        long parts = Math.min(budget, Math.max(1, n * workPerItem / (1 << 18)));
        parts = Math.min(parts, n);
        KernelPool workers = pool;
        if (parts <= 1 || workers == null) {
            range.run(0, n);
            return;
        }
        int p = (int) parts;
        double share = callerShare(p);
        long[] bounds = new long[p + 1];
        bounds[1] = cut(n, share);
        for (int i = 2; i < p; i++) {
            bounds[i] = bounds[1] + cut(n - bounds[1], (double) (i - 1) / (p - 1));
        }
        bounds[p] = n;
        long[] ends = new long[p]; // when each part finished (its own thread writes it; the join publishes it)
        Runnable[] tasks = new Runnable[p];
        for (int i = 0; i < p; i++) {
            int part = i;
            tasks[i] = () -> {
                range.run(bounds[part], bounds[part + 1]);
                ends[part] = System.nanoTime();
            };
        }
        long start = System.nanoTime();
        if (!workers.run(tasks)) {
            range.run(0, n); // another thread holds the workers (or the budget shrank under us): run it all here
            return;
        }
        long lastWorker = 0;
        for (int i = 1; i < p; i++) {
            lastWorker = Math.max(lastWorker, ends[i]);
        }
        adaptCallerShare(p, share, start, ends[0], lastWorker);
    }

    /**
     * The calling thread's share of a split into {@code p} parts. Workers start a few tens of microseconds after
     * the caller (longer when one has parked, and on virtual machines), so equal parts leave the caller waiting
     * at every join; the share adapts to how the parts finished (results do not depend on it: every output is
     * computed by exactly one thread, the same way).
     */
    private static double callerShare(int p) {
        double share = callerShare;
        return share > 0 && sharedFor == p ? share : 1.0 / p;
    }

    /** Moves the caller's share a step towards finishing together with the last worker. */
    private static void adaptCallerShare(int p, double share, long start, long callerEnd, long lastWorkerEnd) {
        long span = Math.max(callerEnd, lastWorkerEnd) - start;
        if (span <= 0) {
            return;
        }
        double late = (double) (lastWorkerEnd - callerEnd) / span; // > 0: the caller waited for a worker
        double next = share + ADAPT_RATE * late * share;
        double equal = 1.0 / p;
        callerShare = Math.min(Math.max(next, equal * 0.5), Math.min(0.9, equal * 1.6));
        sharedFor = p;
    }

    /** round(n · fraction), a multiple of 4 where n allows (the products' tiles are 4 outputs wide), within [1, n − 1]. */
    static long cut(long n, double fraction) {
        long c = Math.round(n * fraction);
        if (n >= 16) {
            return Math.min(Math.max((c + 2) & ~3L, 4), (n - 1) & ~3L);
        }
        return Math.min(Math.max(c, 1), n - 1);
    }
}
