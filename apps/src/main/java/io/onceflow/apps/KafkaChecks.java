package io.onceflow.apps;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.TopicDescription;

/** Checks a command makes before starting a job, each failing with one line that says what to do. */
final class KafkaChecks implements AutoCloseable {

    private final String bootstrapServers;
    private final Admin admin;

    KafkaChecks(String bootstrapServers) {
        this.bootstrapServers = bootstrapServers;
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "10000");
        p.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "1000");
        this.admin = Admin.create(p);
    }

    void requireReachable() {
        try {
            admin.describeCluster().nodes().get(10, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new UserError("Cannot reach Kafka at " + bootstrapServers + " (no answer within 10 s): check "
                    + "--bootstrap-servers and that the broker is running (onceflow broker starts one)");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new UserError("interrupted");
        }
    }

    /** The partition count of an existing topic. */
    int requireTopic(String topic, String role) {
        Map<String, TopicDescription> d = describe(Set.of(topic));
        if (!d.containsKey(topic)) {
            throw new UserError("The " + role + " topic '" + topic + "' does not exist at " + bootstrapServers
                    + ": create it first, for example with kafka-topics.sh --create --topic " + topic);
        }
        return d.get(topic).partitions().size();
    }

    /** Creates the topic if it does not exist; true when it was created. */
    boolean ensureTopic(String topic, int partitions) {
        if (describe(Set.of(topic)).containsKey(topic)) {
            return false;
        }
        try {
            io.onceflow.kafka.broker.Topics.create(admin, partitions, topic);
            return true;
        } catch (ExecutionException e) {
            if (e.getCause() instanceof org.apache.kafka.common.errors.TopicExistsException) {
                return false;
            }
            throw new UserError("Cannot create topic '" + topic + "': " + e.getCause().getMessage());
        } catch (TimeoutException | InterruptedException e) {
            throw new UserError("Cannot create topic '" + topic + "': Kafka did not answer in time");
        }
    }

    private Map<String, TopicDescription> describe(Collection<String> topics) {
        try {
            Set<String> existing = admin.listTopics().names().get(10, TimeUnit.SECONDS);
            List<String> present = topics.stream().filter(existing::contains).toList();
            return present.isEmpty() ? Map.of() : admin.describeTopics(present).allTopicNames().get(10, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new UserError("Cannot read the topics at " + bootstrapServers + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new UserError("interrupted");
        }
    }

    @Override
    public void close() {
        admin.close(java.time.Duration.ofSeconds(2));
    }
}
