package io.onceflow.kafka.sink.internal;

import io.onceflow.kafka.broker.Topics;
import static io.onceflow.kafka.sink.internal.TestClients.describe;
import static io.onceflow.kafka.sink.internal.TestClients.readAllCommitted;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import io.onceflow.kafka.testing.KafkaTestCluster;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.FeatureUpdate;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.clients.admin.UpdateFeaturesOptions;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The adapter on a cluster downgraded to transactions v1 ({@code transaction.version=1}, as Kafka 3.x brokers
 * run): the epoch is not bumped per transaction, partitions are added with AddPartitionsToTxn, EndTxn is v4.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TransactionsV1Test {
    @RegisterExtension
    static final KafkaTestCluster kafka = new KafkaTestCluster()
            .withBrokerProperty("transaction.state.log.num.partitions", "1");

    @Test
    void resumesAndCommitsIdempotentlyUnderTransactionsV1() throws Exception {
        String topic = "v1-topic";
        Properties props = kafka.clientProperties();
        props.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, "60000");
        props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
        List<TransactionalProducer> abandoned = new ArrayList<>();
        try (Admin admin = kafka.createAdmin()) {
            admin.updateFeatures(Map.of("transaction.version", new FeatureUpdate((short) 1,
                    FeatureUpdate.UpgradeType.SAFE_DOWNGRADE)), new UpdateFeaturesOptions()).all()
                    .get(30, TimeUnit.SECONDS);
            Topics.create(admin, 2, topic);

            TransactionalProducer a = TransactionalProducer.create("v1-0-0", props);
            List<String> expected = new ArrayList<>();
            short epoch = a.producerState().epoch();
            for (int t = 0; t < 3; t++) {
                a.beginTransaction();
                for (int i = 0; i < 4; i++) {
                    a.send(new ProducerRecord<>(topic, i % 2, null, ("t" + t + "-" + i).getBytes(StandardCharsets.UTF_8)));
                    expected.add(i % 2 + ":t" + t + "-" + i);
                }
                ResumableTransaction rt = a.preCommit();
                assertFalse(rt.transactionV2(), "the producer follows the downgraded cluster");
                assertEquals(epoch, rt.epoch(), "no epoch bump per transaction under v1");
                TransactionDescription d = describe(admin, rt.transactionalId());
                assertEquals(Set.of(new TopicPartition(topic, 0), new TopicPartition(topic, 1)), d.topicPartitions(),
                        "AddPartitionsToTxn completed by the flush at pre-commit");
                if (t < 2) {
                    a.commitTransaction();
                    continue;
                }
                abandoned.add(a);
                assertEquals(TransactionState.ONGOING, d.state());
                CommitResult first = TransactionalProducer.resumeAndCommit(rt, props, admin);
                assertEquals(CommitResult.Outcome.COMMITTED, first.outcome(), first.message());
                CommitResult second = TransactionalProducer.resumeAndCommit(rt, props, admin);
                assertEquals(CommitResult.Outcome.ALREADY_COMMITTED, second.outcome(), second.message());
            }
            List<String> read = readAllCommitted(props, admin, topic, 2, Duration.ofSeconds(15));
            assertEquals(expected.size(), read.size(), "duplicates or losses: " + read);
            assertEquals(Set.copyOf(expected), Set.copyOf(read));
        } finally {
            abandoned.forEach(p -> p.close(Duration.ZERO));
        }
    }
}
