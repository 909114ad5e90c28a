package dev.wush.zoo.hub;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.DelegatingProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Progress on standard error, so standard output stays parseable: a bar redrawn in place when
 * standard error is a terminal, otherwise (a log file, a pipe, CI) a plain line every
 * {@link #PLAIN_INTERVAL_MS} and one at the end, with no carriage returns.
 */
public final class ProgressBars {

    /** How often a redirected progress prints a line. */
    static final int PLAIN_INTERVAL_MS = 30_000;

    private static final boolean TERMINAL = isTerminal(2);

    private ProgressBars() {}

    /**
     * A started progress bar.
     *
     * @param unitSize steps per printed unit (e.g. 1 MiB of bytes)
     */
    public static ProgressBar start(String task, long max, String unit, long unitSize, boolean showSpeed) {
        ProgressBarBuilder b = new ProgressBarBuilder().setTaskName(task).setInitialMax(max).setUnit(" " + unit, unitSize)
                .setStyle(ProgressBarStyle.ASCII);
        if (showSpeed) {
            b.showSpeed();
        }
        if (TERMINAL) {
            b.setConsumer(new ConsoleProgressBarConsumer(System.err));
        } else {
            b.setConsumer(new DelegatingProgressBarConsumer(new PlainLines(), 100)).setUpdateIntervalMillis(PLAIN_INTERVAL_MS);
        }
        return b.build();
    }

    /** Rendered progress as lines on standard error, each state once. */
    private static final class PlainLines implements java.util.function.Consumer<String> {
        private String last;

        @Override
        public synchronized void accept(String rendered) {
            String line = rendered.strip();
            if (!line.equals(last)) {
                System.err.println(line);
                last = line;
            }
        }
    }

    /** True when standard error is a terminal, as isatty(3) says. */
    public static boolean stderrIsTerminal() {
        return TERMINAL;
    }

    private static boolean isTerminal(int fd) {
        try {
            Linker linker = Linker.nativeLinker();
            MethodHandle isatty = linker.downcallHandle(linker.defaultLookup().find("isatty").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
            return (int) isatty.invokeExact(fd) == 1;
        } catch (Throwable e) { // no C library lookup or no native access: assume a log, the safe choice
            return false;
        }
    }
}
