package dev.wush.kernel;

import org.slf4j.LoggerFactory;
import dev.wush.Settings;
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
        String mode = Settings.get(Settings.KERNELS, "auto").toLowerCase(Locale.ROOT);
        return switch (mode) {
            case "java" -> Fp4Kernels.java();
            case "native" -> {
                NativeFp4Kernels k = NativeFp4Kernels.instance();
                if (k == null) {
                    throw new IllegalStateException(Settings.describe(Settings.KERNELS) + " is native, but " + NativeFp4Kernels.loadError());
                }
                yield k.requested();
            }
            case "auto" -> {
                NativeFp4Kernels k = NativeFp4Kernels.instance();
                if (k == null) {
                    LoggerFactory.getLogger(Fp4Kernels.class).warn("native FP4 kernels unavailable, using the Java fallback: {}",
                            NativeFp4Kernels.loadError());
                    yield Fp4Kernels.java();
                }
                yield k.requested();
            }
            default -> throw new IllegalArgumentException(Settings.describe(Settings.KERNELS) + ": expected auto, native or java, got '"
                    + mode + "'");
        };
    }
}
