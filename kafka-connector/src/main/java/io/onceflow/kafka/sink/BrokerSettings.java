package io.onceflow.kafka.sink;

import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.config.ConfigResource;

/** Reads the broker settings a sink must respect, with the Admin client. */
final class BrokerSettings {

    private BrokerSettings() {
    }

    /** The brokers' {@code transaction.max.timeout.ms}, asked with the caller's Admin client. */
    static Duration transactionMaxTimeout(Admin admin, String bootstrapServers) {
        try {
            Collection<Node> nodes = admin.describeCluster().nodes().get(15, TimeUnit.SECONDS);
            if (nodes.isEmpty()) {
                throw new IllegalStateException("The Kafka cluster at " + bootstrapServers + " reports no brokers");
            }
            ConfigResource broker = new ConfigResource(ConfigResource.Type.BROKER, nodes.iterator().next().idString());
            Config config = admin.describeConfigs(List.of(broker)).all().get(15, TimeUnit.SECONDS).get(broker);
            ConfigEntry entry = config.get("transaction.max.timeout.ms");
            return Duration.ofMillis(entry == null || entry.value() == null ? 900_000 : Long.parseLong(entry.value()));
        } catch (ExecutionException e) {
            throw new IllegalStateException("Cannot read the settings of the Kafka brokers at " + bootstrapServers + ": "
                    + e.getCause().getMessage() + "; check the bootstrap servers and that the brokers are running",
                    e.getCause());
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("The Kafka brokers at " + bootstrapServers + " did not answer within 15 s: "
                    + "check the bootstrap servers and that the brokers are running", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while reading the Kafka brokers' settings", e);
        }
    }
}
