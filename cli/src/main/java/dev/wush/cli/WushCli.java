package dev.wush.cli;

import dev.wush.kernel.KernelThreads;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.util.Locale;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code wush}: evaluate, generate with and (later) quantize Llama-family models with DJL. */
@Command(
        name = "wush",
        mixinStandardHelpOptions = true,
        versionProvider = WushCli.Version.class,
        description = "Data-aware FP4 quantization of Llama-family models for Deep Java Library.",
        subcommands = {EvalCommand.class, EvalTasksCommand.class, CompareCommand.class, GenerateCommand.class, LayerReportCommand.class, QuantizeCommand.class, BenchQuantCommand.class,
            MakeModelCommand.class, BenchScaleCommand.class,
            CommandLine.HelpCommand.class})
public final class WushCli {

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns the exit code (0 ok, 1 failure, 2 bad usage). */
    public static int run(String... args) {
        KernelThreads.preferPassiveOpenMp(); // before any command loads the engine
        CommandLine cli = new CommandLine(new WushCli());
        cli.setExecutionExceptionHandler(WushCli::report);
        cli.setParameterExceptionHandler(WushCli::usage);
        try {
            int code = cli.execute(args);
            MemoryMarks.mark("exit", "code=" + code);
            return code;
        } catch (OutOfMemoryError e) {
            System.err.println("wush: error: out of memory (" + e.getMessage() + "); give Java more with WUSH_JAVA_OPTS=-Xmx<size>"
                    + " or use smaller --batch/--window values");
            if ("1".equals(System.getenv("WUSH_DEBUG"))) {
                e.printStackTrace();
            }
            return 1;
        }
    }

    /** A usage error in one line: what is wrong, and where the help is. */
    private static int usage(CommandLine.ParameterException e, String[] args) {
        CommandLine cmd = e.getCommandLine();
        String name = cmd.getCommandSpec().qualifiedName();
        PrintWriter err = cmd.getErr();
        String suggestion = "";
        if (e instanceof CommandLine.UnmatchedArgumentException u && !u.getSuggestions().isEmpty()) {
            suggestion = "; did you mean " + String.join(" or ", u.getSuggestions()) + "?";
        }
        err.println(name + ": error: " + firstLine(e.getMessage()) + suggestion + " (see '" + name + " --help')");
        err.flush();
        return 2;
    }

    /** One clear line for errors a user can fix; the stack trace only with WUSH_DEBUG=1. */
    private static int report(Exception e, CommandLine cmd, CommandLine.ParseResult parsed) {
        PrintWriter err = cmd.getErr();
        Throwable shown = e;
        while (shown.getMessage() == null && shown.getCause() != null) { // a bare wrapper: show its cause
            shown = shown.getCause();
        }
        err.println(cmd.getCommandSpec().qualifiedName() + ": error: " + message(shown));
        if ("1".equals(System.getenv("WUSH_DEBUG"))) {
            e.printStackTrace(err);
        }
        err.flush();
        boolean usage = e instanceof IllegalArgumentException;
        return usage ? 2 : 1;
    }

    /**
     * The one-line message of an error: ours say what and where; the JDK's file errors are put in
     * words; anything else is an internal error, said as such without its class name.
     */
    static String message(Throwable t) {
        if (t instanceof NoSuchFileException f) {
            return f.getReason() != null ? firstLine(t.getMessage()) : f.getFile() + ": no such file";
        }
        if (t instanceof AccessDeniedException f) {
            return f.getFile() + ": permission denied";
        }
        if (t instanceof FileSystemException f && f.getReason() != null) {
            return f.getFile() + (f.getOtherFile() == null ? "" : " → " + f.getOtherFile()) + ": "
                    + f.getReason().toLowerCase(Locale.ROOT);
        }
        if (t instanceof IOException || t instanceof IllegalArgumentException || t instanceof ArithmeticException
                || t instanceof ai.djl.repository.zoo.ModelNotFoundException || t instanceof ai.djl.MalformedModelException) {
            return firstLine(t.getMessage());
        }
        return "internal error" + (t.getMessage() == null ? "" : " (" + firstLine(t.getMessage()) + ")")
                + "; please report it, with the stack trace that WUSH_DEBUG=1 prints";
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "unknown error";
        }
        int nl = message.indexOf('\n');
        return (nl < 0 ? message : message.substring(0, nl)).strip();
    }

    /** Version from the jar manifest. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = WushCli.class.getPackage().getImplementationVersion();
            return new String[] {"wush " + (v == null ? "(development build)" : v)};
        }
    }
}
