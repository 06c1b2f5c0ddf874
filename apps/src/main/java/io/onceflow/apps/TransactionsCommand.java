package io.onceflow.apps;

import io.onceflow.kafka.audit.TransactionProbe;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.admin.AdminClientConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code onceflow transactions}: the transactions open on a cluster, to find hanging ones. */
@Command(name = "transactions", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"List the Kafka transactions open now, oldest first, with their age, timeout and partitions. A "
                + "transaction that stays open holds back the last stable offset of its partitions, so every "
                + "read_committed consumer of them waits (a hanging transaction). An Onceflow job's transactional ids "
                + "start with its sink's prefix (the word count's: onceflow-<job name>)."})
final class TransactionsCommand implements Callable<Integer> {

    @Option(names = "--bootstrap-servers", required = true, paramLabel = "HOST:PORT", description = "Kafka to ask.")
    String bootstrapServers;

    @Option(names = "--prefix", paramLabel = "PREFIX", description = "Only transactional ids starting with this.")
    String prefix;

    @Override
    public Integer call() {
        try (KafkaChecks kafka = new KafkaChecks(bootstrapServers)) {
            kafka.requireReachable();
        }
        Properties client = new Properties();
        client.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        List<TransactionProbe.OpenTransaction> open = TransactionProbe.open(client, prefix);
        String which = prefix == null || prefix.isEmpty() ? "" : " with a transactional id starting with '" + prefix + "'";
        if (open.isEmpty()) {
            System.out.println("No open transactions" + which + ".");
            return 0;
        }
        System.out.println(open.size() + " open transaction(s)" + which + ", oldest first:");
        for (TransactionProbe.OpenTransaction t : open) {
            System.out.printf(Locale.ROOT, "  %s  producer %d epoch %d  open %.1f s of %.1f s%s  %s%n", t.transactionalId(),
                    t.producerId(), t.producerEpoch(), t.age().toMillis() / 1000.0, t.timeout().toMillis() / 1000.0,
                    t.overdue() ? " (OVERDUE: the broker should have aborted it)" : "", t.partitions());
        }
        return 0;
    }
}
