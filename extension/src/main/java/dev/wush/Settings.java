package dev.wush;

import ai.djl.util.Utils;
import java.util.Locale;

/**
 * The library's settings, read the way DJL reads its own ({@link Utils#getEnvOrSystemProperty}): each has a system
 * property name ({@code wush.kernels.isa}) and an environment variable of the same words in capitals
 * ({@code WUSH_KERNELS_ISA}); as in DJL, the environment variable wins when both are set.
 *
 * <table>
 *   <caption>Settings</caption>
 *   <tr><th>property</th><th>values</th></tr>
 *   <tr><td>{@code wush.threads}</td><td>thread budget of the engine and the packed kernels (default: physical cores)</td></tr>
 *   <tr><td>{@code wush.kernels}</td><td>{@code auto} (default), {@code native} or {@code java}</td></tr>
 *   <tr><td>{@code wush.kernels.isa}</td><td>{@code auto} (default), {@code scalar}, {@code avx2}, {@code avx512-vnni}</td></tr>
 *   <tr><td>{@code wush.attention}</td><td>{@code native} (default) or {@code engine}: decode attention</td></tr>
 *   <tr><td>{@code wush.models.dir}</td><td>a directory searched first for zoo models</td></tr>
 *   <tr><td>{@code wush.native.dir}</td><td>where native libraries are extracted (default: DJL's cache directory)</td></tr>
 * </table>
 */
public final class Settings {

    public static final String THREADS = "wush.threads";
    public static final String KERNELS = "wush.kernels";
    public static final String KERNELS_ISA = "wush.kernels.isa";
    public static final String ATTENTION = "wush.attention";
    public static final String MODELS_DIR = "wush.models.dir";
    public static final String NATIVE_DIR = "wush.native.dir";

    private Settings() {}

    /** The value of a setting, or null when neither its environment variable nor its system property is set. */
    public static String get(String property) {
        String value = Utils.getEnvOrSystemProperty(environmentName(property));
        return value != null ? value : Utils.getEnvOrSystemProperty(property);
    }

    /** The value of a setting, or {@code fallback}. */
    public static String get(String property, String fallback) {
        String value = get(property);
        return value != null ? value : fallback;
    }

    /** {@code wush.kernels.isa} → {@code WUSH_KERNELS_ISA}. */
    public static String environmentName(String property) {
        return property.toUpperCase(Locale.ROOT).replace('.', '_');
    }

    /** How an error names a setting: {@code wush.kernels.isa (WUSH_KERNELS_ISA)}. */
    public static String describe(String property) {
        return property + " (" + environmentName(property) + ")";
    }
}
