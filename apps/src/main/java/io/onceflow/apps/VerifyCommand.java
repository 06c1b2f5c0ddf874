package io.onceflow.apps;

import io.onceflow.kafka.audit.ExactlyOnceAudit;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.admin.AdminClientConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code onceflow verify}: the exactly-once audit of an output topic, as a downstream consumer sees it. */
@Command(name = "verify", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Read a topic from the beginning with an independent read_committed consumer and check a per-key "
                + "sequence: every record's key is a name and its value a number (decimal text), and for each key the "
                + "values must be exactly 1, 2, ..., n (a running count, or anything numbered per key). Reports "
                + "duplicates, gaps and, per partition, how far the last stable offset is behind the log end (a lag that "
                + "stays is an open transaction holding back every read_committed consumer).",
                "Without --expected, n is the highest value seen per key; with it, n comes from the file. Exit code 0 "
                + "when the topic is exact, 1 when it is not."})
final class VerifyCommand implements Callable<Integer> {

    @Option(names = "--bootstrap-servers", required = true, paramLabel = "HOST:PORT", description = "Kafka to read.")
    String bootstrapServers;

    @Option(names = "--topic", required = true, paramLabel = "TOPIC", description = "The topic to check.")
    String topic;

    @Option(names = "--expected", paramLabel = "FILE",
            description = "Expected n per key: one '<key> <n>' (or '<key>,<n>') per line, e.g. each word and how often "
                    + "it occurs in the input. Keys not in the file are unexpected.")
    Path expectedFile;

    @Option(names = "--timeout", defaultValue = "60s", paramLabel = "DURATION",
            description = "How long reading the topic may take (default: ${DEFAULT-VALUE}).")
    Duration timeout;

    @Override
    public Integer call() throws Exception {
        Map<String, Long> expected = expectedFile == null ? null : readExpected(expectedFile);
        try (KafkaChecks kafka = new KafkaChecks(bootstrapServers)) {
            kafka.requireReachable();
            kafka.requireTopic(topic, "verified");
        }
        Properties client = new Properties();
        client.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        System.out.println("Reading " + topic + " with an independent read_committed consumer ...");
        ExactlyOnceAudit.Report r = ExactlyOnceAudit.verify(client, topic, expected, timeout);
        System.out.printf(Locale.ROOT, "  records      %,d%n", r.records());
        System.out.printf(Locale.ROOT, "  keys         %,d%n", r.keys());
        System.out.printf(Locale.ROOT, "  duplicates   %,d%n", r.duplicates());
        System.out.printf(Locale.ROOT, "  gaps         %,d%s%n", r.gaps(), expected == null ? "" : " (lost)");
        System.out.printf(Locale.ROOT, "  unexpected   %,d%n", r.unexpected());
        System.out.printf(Locale.ROOT, "  malformed    %,d%n", r.malformed());
        System.out.println("  partition   log end   last stable   not yet stable");
        for (ExactlyOnceAudit.PartitionLag lag : r.partitions()) {
            System.out.printf(Locale.ROOT, "  %9d %9d %13d %16d%s%n", lag.partition().partition(), lag.logEndOffset(),
                    lag.lastStableOffset(), lag.lag(), lag.lag() > 0 ? "  (an open transaction; see onceflow transactions)" : "");
        }
        if (r.exact()) {
            System.out.println("EXACT: every key's values are exactly 1, 2, ..., n.");
            return 0;
        }
        System.out.println("NOT EXACT" + (r.examples().isEmpty() ? "" : ", e.g. " + r.examples()));
        return 1;
    }

    static Map<String, Long> readExpected(Path file) throws IOException {
        Map<String, Long> expected = new HashMap<>();
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UserError("Cannot read the expected file " + file + " (" + e.getClass().getSimpleName() + ")");
        }
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).trim();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int sep = Math.max(line.lastIndexOf(' '), Math.max(line.lastIndexOf(','), line.lastIndexOf('\t')));
            try {
                if (sep <= 0) {
                    throw new NumberFormatException();
                }
                expected.put(line.substring(0, sep).trim(), Long.parseLong(line.substring(sep + 1).trim()));
            } catch (NumberFormatException e) {
                throw new UserError("Line " + (i + 1) + " of " + file + " is not '<key> <n>': '" + line + "'");
            }
        }
        return expected;
    }
}
