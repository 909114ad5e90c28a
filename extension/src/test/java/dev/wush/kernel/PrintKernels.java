package dev.wush.kernel;

/** Prints the kernels {@link Fp4Kernels#get()} chooses, for {@link KernelChoiceTest}'s child JVMs. */
public final class PrintKernels {

    private PrintKernels() {}

    public static void main(String[] args) {
        try {
            System.out.println(Fp4Kernels.get().name());
        } catch (IllegalArgumentException | IllegalStateException e) { // a bad setting: the error itself, no wrapper
            System.out.println("error: " + e.getMessage());
        }
    }
}
