package io.onceflow.kafka.sink.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.kafka.broker.Topics;
import io.onceflow.kafka.testing.KafkaTestCluster;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link CommitMarkers} against a real broker, judged by an independent read_committed consumer, part by part: a
 * commit that arrived needs nothing, a hand-written commit marker makes a partition's open records visible, and
 * nothing is written for a transaction the coordinator has not committed or for records older than the
 * transaction's own. {@link DroppedMarkersTest} has the whole repair of a commit marker the broker dropped.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CommitMarkersTest {
    @RegisterExtension
    static final KafkaTestCluster kafka = new KafkaTestCluster()
            .withBrokerProperty("transaction.state.log.num.partitions", "1");

    private static final AtomicInteger TOPICS = new AtomicInteger();
    private static Admin admin;
    private final List<TransactionalProducer> producers = new ArrayList<>();

    @BeforeAll
    static void createAdmin() {
        admin = kafka.createAdmin();
    }

    @AfterAll
    static void closeAdmin() {
        if (admin != null) {
            admin.close();
        }
    }

    @AfterEach
    void closeProducers() {
        producers.forEach(p -> p.close(Duration.ZERO));
    }

    private static Properties props() {
        Properties p = kafka.clientProperties();
        p.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, "60000");
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "15000");
        return p;
    }

    private static String newTopic() throws Exception {
        String topic = "markers-" + TOPICS.incrementAndGet();
        Topics.create(admin, 2, topic);
        return topic;
    }

    private TransactionalProducer producer(String id) {
        TransactionalProducer p = TransactionalProducer.create(id, props());
        producers.add(p);
        return p;
    }

    /** Begins a transaction, writes {@code n} records alternately to partitions 0 and 1 and pre-commits it. */
    private static ResumableTransaction preCommitted(TransactionalProducer p, String topic, String tag, int n) {
        p.beginTransaction();
        for (int i = 0; i < n; i++) {
            p.send(new ProducerRecord<>(topic, i % 2, null, (tag + "-" + i).getBytes(StandardCharsets.UTF_8)));
        }
        return p.preCommit();
    }

    /**
     * What a read_committed consumer sees of the topic now: everything up to each partition's last stable offset
     * (an open transaction holds it back, so unlike {@code readAllCommitted} this does not wait for the high
     * watermark).
     */
    private static List<String> committed(String topic) {
        List<TopicPartition> tps = List.of(new TopicPartition(topic, 0), new TopicPartition(topic, 1));
        List<String> values = new ArrayList<>();
        try (var consumer = TestClients.readCommittedConsumer(props())) {
            consumer.assign(tps);
            consumer.seekToBeginning(tps);
            Map<TopicPartition, Long> stable = consumer.endOffsets(tps);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (tps.stream().anyMatch(tp -> consumer.position(tp) < stable.get(tp))) {
                assertTrue(System.nanoTime() < deadline, "did not reach the last stable offsets " + stable);
                consumer.poll(Duration.ofMillis(100)).forEach(r -> values.add(r.partition() + ":"
                        + new String(r.value(), StandardCharsets.UTF_8)));
            }
        }
        return values;
    }

    @Test
    void theCommittableKnowsWhereTheTransactionBeganInEachPartition() throws Exception {
        String topic = newTopic();
        TransactionalProducer p = producer("markers-offsets");
        preCommitted(p, topic, "first", 2);
        p.commitTransaction();
        ResumableTransaction t = preCommitted(p, topic, "second", 4);
        // two records and a commit marker in each partition before it
        assertEquals(Map.of(new TopicPartition(topic, 0), 2L, new TopicPartition(topic, 1), 2L), t.firstOffsets());
    }

    @Test
    void aCommitWhoseMarkersArrivedNeedsNothing() throws Exception {
        String topic = newTopic();
        TransactionalProducer p = producer("markers-clean");
        ResumableTransaction t = preCommitted(p, topic, "clean", 4);
        p.commitTransaction();
        CommitMarkers.verifyCommitted(admin, t, props());
        assertEquals(Set.of("0:clean-0", "1:clean-1", "0:clean-2", "1:clean-3"), Set.copyOf(committed(topic)));
        assertEquals(Map.of(), CommitMarkers.stillOpen(admin, t, 10_000));
    }

    @Test
    void aCommitMarkerWrittenHereMakesThePartitionsOpenRecordsVisible() throws Exception {
        String topic = newTopic();
        TransactionalProducer p = producer("markers-by-hand");
        ResumableTransaction t = preCommitted(p, topic, "open", 4);
        assertEquals(List.of(), committed(topic), "an open transaction is hidden from read_committed consumers");
        Map<TopicPartition, ProducerState> open = CommitMarkers.stillOpen(admin, t, 10_000);
        assertEquals(t.firstOffsets().keySet(), open.keySet());

        TopicPartition p0 = new TopicPartition(topic, 0);
        CommitMarkers.writeCommitMarker(admin, p0, t.producerId(), (short) open.get(p0).producerEpoch(),
                open.get(p0).coordinatorEpoch().orElse(0), 10_000);

        assertEquals(Set.of("0:open-0", "0:open-2"), Set.copyOf(committed(topic)),
                "partition 0 committed by the marker, partition 1 still open");
        assertEquals(Set.of(new TopicPartition(topic, 1)), CommitMarkers.stillOpen(admin, t, 10_000).keySet());
    }

    @Test
    void noMarkerIsWrittenForATransactionTheCoordinatorHasNotCommitted() throws Exception {
        String topic = newTopic();
        TransactionalProducer p = producer("markers-not-committed");
        ResumableTransaction t = preCommitted(p, topic, "pending", 4);

        KafkaException e = assertThrows(KafkaException.class, () -> CommitMarkers.verifyCommitted(admin, t, props()));
        assertTrue(e.getMessage().contains("does not show it committed (state Ongoing"), e.getMessage());
        assertEquals(List.of(), committed(topic), "still hidden: nothing was written for it");
    }

    @Test
    void recordsOpenFromBeforeTheTransactionsFirstRecordAreNotTakenForIts() throws Exception {
        String topic = newTopic();
        TransactionalProducer p = producer("markers-older");
        ResumableTransaction t = preCommitted(p, topic, "x", 4);
        TopicPartition p0 = new TopicPartition(topic, 0);
        // as if the transaction had begun at its second record in partition 0: the first one is "older"
        ResumableTransaction later = new ResumableTransaction(t.transactionalId(), t.producerId(), t.epoch(),
                t.transactionV2(), Map.of(p0, t.firstOffsets().get(p0) + 1));

        KafkaException e = assertThrows(KafkaException.class, () -> CommitMarkers.stillOpen(admin, later, 10_000));
        assertTrue(e.getMessage().contains("open from before its first record: " + p0 + " from offset "
                + t.firstOffsets().get(p0)), e.getMessage());
    }
}
