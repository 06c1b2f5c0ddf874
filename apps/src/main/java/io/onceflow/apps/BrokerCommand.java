package io.onceflow.apps;

import io.onceflow.kafka.broker.KafkaBrokerLauncher;
import io.onceflow.kafka.broker.RunningKafkaBroker;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code onceflow broker}: a real single-node Kafka broker (KRaft) until interrupted. */
@Command(name = "broker", mixinStandardHelpOptions = true,
        description = "Start a single-node Apache Kafka broker (KRaft) in a child JVM and keep it running until "
                + "interrupted (Ctrl-C). Its data survives a restart on the same data directory.")
final class BrokerCommand implements Callable<Integer> {

    @Option(names = "--port", defaultValue = "9092", description = "Port for clients (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--data-dir", description = "Where the broker keeps its data (default: a temporary directory, "
            + "deleted on exit).")
    Path dataDir;

    @Override
    public Integer call() throws Exception {
        if (port < 1 || port > 65535) {
            throw new UserError("--port must be between 1 and 65535, was " + port);
        }
        KafkaBrokerLauncher launcher = new KafkaBrokerLauncher().port(port);
        if (dataDir != null) {
            launcher.dataDirectory(dataDir.toAbsolutePath());
        }
        System.out.println("Starting Kafka broker on port " + port + (dataDir != null ? " with data in " + dataDir : "")
                + " ...");
        RunningKafkaBroker broker = launcher.start();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("Stopping Kafka broker ...");
            broker.stop();
            stopped.countDown();
        }, "onceflow broker shutdown"));
        System.out.println("Kafka broker ready at " + broker.bootstrapServers() + " (data in " + broker.dataDirectory()
                + "); press Ctrl-C to stop.");
        stopped.await();
        return 0;
    }
}
