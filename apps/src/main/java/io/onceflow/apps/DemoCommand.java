package io.onceflow.apps;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code onceflow demo}: everything on the embedded default, checked end to end. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Start a Kafka broker in a temporary directory, write a sample text, run the exactly-once word "
                + "count with a crash injected part-way, then check the output with an independent read_committed "
                + "consumer. Exits 0 only if every word's counts are exactly 1, 2, ..., n. Cleans up after itself."})
final class DemoCommand implements Callable<Integer> {

    @Option(names = "--lines", defaultValue = "20000", description = "Lines of sample text (default: ${DEFAULT-VALUE}).")
    int lines;

    @Option(names = "--parallelism", defaultValue = "2", description = "Parallel subtasks (default: ${DEFAULT-VALUE}).")
    int parallelism;

    @Override
    public Integer call() throws Exception {
        if (lines < 1000 || parallelism < 1 || parallelism > 16) {
            throw new UserError("--lines must be at least 1000 and --parallelism between 1 and 16");
        }
        Demo.Options d = Demo.Options.defaults();
        Demo.Result result = Demo.run(new Demo.Options(lines, parallelism, d.linesPerSecondPerSubtask(),
                d.crashAfterCheckpoint(), d.counter()), System.out);
        return result.passed() ? 0 : 1;
    }
}
