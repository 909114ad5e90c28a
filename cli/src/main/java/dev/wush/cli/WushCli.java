package dev.wush.cli;

import java.io.IOException;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code wush}: evaluate, generate with and (later) quantize Llama-family models with DJL. */
@Command(
        name = "wush",
        mixinStandardHelpOptions = true,
        versionProvider = WushCli.Version.class,
        description = "Data-aware FP4 quantization of Llama-family models for Deep Java Library.",
        subcommands = {EvalCommand.class, GenerateCommand.class, LayerReportCommand.class, QuantizeCommand.class, BenchQuantCommand.class,
            CommandLine.HelpCommand.class})
public final class WushCli {

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns the exit code (0 ok, 1 failure, 2 bad usage). */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new WushCli());
        cli.setExecutionExceptionHandler(WushCli::report);
        return cli.execute(args);
    }

    /** One clear line for errors a user can fix; the stack trace only with WUSH_DEBUG=1. */
    private static int report(Exception e, CommandLine cmd, CommandLine.ParseResult parsed) {
        PrintWriter err = cmd.getErr();
        Throwable shown = e;
        while (shown.getMessage() == null && shown.getCause() != null) { // a bare wrapper: show its cause
            shown = shown.getCause();
        }
        err.println("wush " + cmd.getCommandName() + ": error: " + message(shown));
        if ("1".equals(System.getenv("WUSH_DEBUG"))) {
            e.printStackTrace(err);
        }
        err.flush();
        boolean usage = e instanceof IllegalArgumentException;
        return usage ? 2 : 1;
    }

    private static String message(Throwable t) {
        if (t instanceof java.nio.file.NoSuchFileException) {
            return t.getMessage() + ": no such file";
        }
        if (t instanceof IOException || t instanceof IllegalArgumentException || t.getMessage() != null) {
            return t.getMessage();
        }
        return t.toString();
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
