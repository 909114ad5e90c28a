package dev.wush.kernel;

import static java.lang.foreign.ValueLayout.ADDRESS;

import ai.djl.ndarray.NDManager;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * For {@link KernelThreadsTest}'s child JVM: sets the thread budget, loads the engine, then prints the
 * process environment's OMP_WAIT_POLICY (read natively: Java's view of the environment is fixed at start-up)
 * and whether the budget reports the policy passive.
 */
public final class PrintOmpPolicy {

    private PrintOmpPolicy() {}

    public static void main(String[] args) throws Throwable {
        KernelThreads.threads();
        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            manager.ones(new ai.djl.ndarray.types.Shape(4)).sum().close();
        }
        Linker linker = Linker.nativeLinker();
        MethodHandle getenv = linker.downcallHandle(linker.defaultLookup().find("getenv").orElseThrow(),
                FunctionDescriptor.of(ADDRESS, ADDRESS));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = (MemorySegment) getenv.invokeExact(arena.allocateFrom("OMP_WAIT_POLICY"));
            String policy = value.equals(MemorySegment.NULL) ? "unset" : value.reinterpret(64).getString(0);
            System.out.println(policy + " " + KernelThreads.preferPassiveOpenMp());
        }
    }
}
