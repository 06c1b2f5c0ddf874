package io.onceflow.apps;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code onceflow <command>}: the entry point of the runnable jar. */
@Command(name = "onceflow", mixinStandardHelpOptions = true, versionProvider = OnceflowCommand.Version.class,
        description = "End-to-end exactly-once Kafka pipelines in one JVM.",
        subcommands = {BrokerCommand.class, WordCountCommand.class, DemoCommand.class, VerifyCommand.class,
                TransactionsCommand.class, CommandLine.HelpCommand.class})
public final class OnceflowCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        // the jar carries two slf4j bindings: simple for this process, log4j2 for the broker's child JVM
        System.setProperty("slf4j.provider", "org.slf4j.simple.SimpleServiceProvider");
        System.setProperty("slf4j.internal.verbosity", "WARN");
        System.exit(execute(args));
    }

    /** Runs a command line and returns its exit code; errors are one line on stderr, not a stack trace. */
    public static int execute(String... args) {
        CommandLine cli = new CommandLine(new OnceflowCommand());
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            commandLine.getErr().println("onceflow " + commandLine.getCommandName() + ": " + Errors.oneLine(e));
            return 1;
        });
        cli.setParameterExceptionHandler((e, badArgs) -> {
            CommandLine c = e.getCommandLine();
            c.getErr().println("onceflow " + c.getCommandName() + ": " + e.getMessage().replaceAll("\\s+", " ").trim()
                    + " (see onceflow " + c.getCommandName() + " --help)");
            return 2;
        });
        cli.registerConverter(java.time.Duration.class, Durations::parse);
        return cli.execute(args);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = OnceflowCommand.class.getPackage().getImplementationVersion();
            return new String[] {"onceflow " + (v != null ? v : "development build")};
        }
    }
}
