package dev.wush.kernel;

import java.util.Locale;

/**
 * The kernels {@link Fp4Kernels#get()} returns: chosen once per JVM, on first use. A bad setting is kept as
 * its error and thrown as itself on every call (not as an {@code ExceptionInInitializerError} with a stack
 * trace around it), so that commands report it in one line.
 */
final class DefaultKernels {

    private static final Object CHOICE = chooseOrError();

    private DefaultKernels() {}

    /** The chosen kernels; the setting's error when it names none. */
    static Fp4Kernels instance() {
        if (CHOICE instanceof RuntimeException e) {
            throw e instanceof IllegalArgumentException ? new IllegalArgumentException(e.getMessage(), e)
                    : new IllegalStateException(e.getMessage(), e);
        }
        return (Fp4Kernels) CHOICE;
    }

    private static Object chooseOrError() {
        try {
            return choose();
        } catch (IllegalArgumentException | IllegalStateException e) {
            return e;
        }
    }

    private static Fp4Kernels choose() {
        String mode = System.getProperty("wush.kernels", "auto").toLowerCase(Locale.ROOT);
        return switch (mode) {
            case "java" -> Fp4Kernels.java();
            case "native" -> {
                NativeFp4Kernels k = NativeFp4Kernels.instance();
                if (k == null) {
                    throw new IllegalStateException("wush.kernels=native: " + NativeFp4Kernels.loadError());
                }
                yield k.requested();
            }
            case "auto" -> {
                NativeFp4Kernels k = NativeFp4Kernels.instance();
                if (k == null) {
                    System.getLogger(Fp4Kernels.class.getName()).log(System.Logger.Level.WARNING,
                            "native FP4 kernels unavailable, using the Java fallback: " + NativeFp4Kernels.loadError());
                    yield Fp4Kernels.java();
                }
                yield k.requested();
            }
            default -> throw new IllegalArgumentException("system property wush.kernels: expected auto, native or java, got '"
                    + mode + "'");
        };
    }
}
