package dev.wush.bench;

import dev.wush.kernel.Fp4Kernels;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Memory-read bandwidth of this machine: all cores summing a 1 GiB float buffer once (far larger than
 * any cache), with the same native vector code and thread split the kernels use.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class StreamBenchmark {

    static final long BYTES = 1L << 30;

    private Arena arena;
    private MemorySegment buffer;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        buffer = arena.allocate(BYTES, 64);
        for (long i = 0; i < BYTES / 4; i += 1024) {
            buffer.setAtIndex(ValueLayout.JAVA_FLOAT, i, 1f); // touch every page
        }
    }

    @Benchmark
    public double read1GiB() {
        int cores = Runtime.getRuntime().availableProcessors();
        long n = BYTES / 4;
        return IntStream.range(0, cores).parallel()
                .mapToDouble(i -> Fp4Kernels.get().streamSum(buffer.asSlice(n * i / cores * 4, (n * (i + 1) / cores - n * i / cores) * 4),
                        n * (i + 1) / cores - n * i / cores))
                .sum();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }
}
