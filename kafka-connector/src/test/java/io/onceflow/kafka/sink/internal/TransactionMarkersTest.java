package io.onceflow.kafka.sink.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.kafka.broker.Topics;
import io.onceflow.kafka.testing.KafkaTestCluster;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link CommitMarkers} and {@link EndedTransactionSweep} against a real broker, judged by an independent
 * read_committed consumer. The parts of the commit check one by one: a commit that arrived needs nothing, a
 * hand-written commit marker makes a partition's open records visible, and nothing is written for a transaction
 * the coordinator has not committed or for records older than the transaction's own. Then markers the broker
 * dropped, made on purpose: a transaction's records are also put, behind the coordinator's back, in a partition
 * the coordinator does not know the transaction wrote to ({@link StrayTransactionalBatch}; the broker runs without
 * partition verification for this), so that ending the transaction leaves them open there, as a broker that
 * skipped the marker does.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class TransactionMarkersTest {
    @RegisterExtension
    static final KafkaTestCluster kafka = new KafkaTestCluster()
            .withBrokerProperty("transaction.state.log.num.partitions", "1")
            .withBrokerProperty("transaction.partition.verification.enable", "false");

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

    /**
     * A pre-committed transaction with {@code n} records in partition 0 and, unknown to its coordinator, two in
     * partition 1; its committable names both partitions, as the sink's does when the producer wrote to both.
     */
    private static ResumableTransaction withStrayRecords(TransactionalProducer p, String topic, String tag, int n)
            throws Exception {
        p.beginTransaction();
        for (int i = 0; i < n; i++) {
            p.send(new ProducerRecord<>(topic, 0, null, (tag + "-" + i).getBytes(StandardCharsets.UTF_8)));
        }
        ResumableTransaction t = p.preCommit();
        TopicPartition p1 = new TopicPartition(topic, 1);
        long first = StrayTransactionalBatch.append(kafka.bootstrapServers(), p1, t.transactionalId(), t.producerId(), t.epoch(), 0,
                List.of(tag + "-stray-0", tag + "-stray-1"));
        Map<TopicPartition, Long> offsets = new HashMap<>(t.firstOffsets());
        offsets.put(p1, first);
        return new ResumableTransaction(t.transactionalId(), t.producerId(), t.epoch(), t.transactionV2(), offsets);
    }

    /** Per partition: read_committed end (the last stable offset) and read_uncommitted end (the high watermark). */
    private static Map<Integer, List<Long>> ends(String topic) {
        List<TopicPartition> tps = List.of(new TopicPartition(topic, 0), new TopicPartition(topic, 1));
        Map<Integer, List<Long>> ends = new HashMap<>();
        Map<TopicPartition, Long> stable;
        Map<TopicPartition, Long> high;
        try (var committed = TestClients.readCommittedConsumer(props()); var all = uncommittedConsumer()) {
            stable = committed.endOffsets(tps);
            high = all.endOffsets(tps);
        }
        tps.forEach(tp -> ends.put(tp.partition(), List.of(stable.get(tp), high.get(tp))));
        return ends;
    }

    /** Waits (10 s at most) until {@code partition}'s ends are {@code expected}, as {@link #ends} gives them. */
    private static void awaitEnds(String topic, int partition, List<Long> expected) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        List<Long> now;
        while (!(now = ends(topic).get(partition)).equals(expected)) {
            assertTrue(System.nanoTime() < deadline, "partition " + partition + "'s ends stayed " + now
                    + " for 10 s, expected " + expected);
            Thread.sleep(20);
        }
    }

    private static KafkaConsumer<byte[], byte[]> uncommittedConsumer() {
        Properties p = props();
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_uncommitted");
        return new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    @Test
    void aCommitMarkerTheBrokerDroppedIsWrittenAfterTheCommit() throws Exception {
        String topic = newTopic();
        TransactionalProducer p = producer("dropped-commit");
        ResumableTransaction t = withStrayRecords(p, topic, "c", 2);
        p.commitTransaction();
        // the coordinator writes its markers after it answered the commit: wait for partition 0's
        awaitEnds(topic, 0, List.of(3L, 3L));
        assertEquals(Set.of("0:c-0", "0:c-1"), Set.copyOf(committed(topic)),
                "the commit left partition 1's records open: hidden, as after a dropped marker");
        assertEquals(List.of(0L, 2L), ends(topic).get(1), "partition 1's last stable offset is held at its open records");

        CommitMarkers.verifyCommitted(admin, t, props());

        assertEquals(Set.of("0:c-0", "0:c-1", "1:c-stray-0", "1:c-stray-1"), Set.copyOf(committed(topic)));
        assertEquals(List.of(3L, 3L), ends(topic).get(1), "the marker closed the transaction in partition 1");
    }

    private static List<EndedTransactionSweep.Aborted> sweep(String prefix, String topic) {
        return EndedTransactionSweep.abortEnded(admin, LingeringTransactionAborter.escape(prefix) + "-p[0-9]+-[0-9]+-[0-9]+",
                id -> true, List.of(topic), List.of(), props());
    }

    @Test
    void abortMarkersTheBrokerDroppedAreWrittenByTheSweep() throws Exception {
        String topic = newTopic();
        TransactionalProducer p = producer("sweep-abort-p1-0-0");
        TransactionalProducer q = producer("sweep-abort-p1-0-1");
        ResumableTransaction t = withStrayRecords(p, topic, "a", 2);
        ResumableTransaction u = withStrayRecords(q, topic, "b", 2);
        p.abortTransaction();
        q.abortTransaction();
        assertEquals(List.of(0L, 4L), ends(topic).get(1), "the aborts left both ids' records open in partition 1");

        List<EndedTransactionSweep.Aborted> aborted = sweep("sweep-abort", topic);

        TopicPartition p1 = new TopicPartition(topic, 1);
        assertEquals(Set.of(new EndedTransactionSweep.Aborted(p1, t.transactionalId(), t.producerId(), t.epoch(), 0),
                new EndedTransactionSweep.Aborted(p1, u.transactionalId(), u.producerId(), u.epoch(), 2)),
                Set.copyOf(aborted), "both, though in the same partition");
        assertEquals(List.of(6L, 6L), ends(topic).get(1), "an abort marker for each closed partition 1");
        assertEquals(List.of(), committed(topic), "aborted records stay hidden");
        assertEquals(List.of(), sweep("sweep-abort", topic), "nothing left to sweep");
    }

    @Test
    void partitionsFoundHoldingATransactionAreSweptThoughNoTopicIsNamedAndThoseThatDoNotAnswerAreLeftOut()
            throws Exception {
        String topic = newTopic();
        TransactionalProducer p = producer("sweep-found-p1-0-0");
        ResumableTransaction t = withStrayRecords(p, topic, "f", 2);
        p.abortTransaction();
        awaitEnds(topic, 0, List.of(3L, 3L)); // the abort returns before its coordinator has written the marker
        TopicPartition p1 = new TopicPartition(topic, 1);
        Set<TopicPartition> found = EndedTransactionSweep.partitionsWithOpenTransactions(admin, props());
        assertTrue(found.contains(p1), "the partition the abort left open: " + found);
        assertFalse(found.contains(new TopicPartition(topic, 0)), "not the one with its abort marker");

        TopicPartition gone = new TopicPartition(topic + "-never-created", 0);
        List<EndedTransactionSweep.Aborted> aborted = EndedTransactionSweep.abortEnded(admin,
                "sweep\\-found\\-p[0-9]+-[0-9]+-[0-9]+", id -> true, List.of(), Set.of(p1, gone), props());

        assertEquals(List.of(new EndedTransactionSweep.Aborted(p1, t.transactionalId(), t.producerId(), t.epoch(), 0)),
                aborted, "aborted in the partition found; the one that cannot be asked does not stop the sweep");
        assertEquals(List.of(3L, 3L), ends(topic).get(1));
    }

    @Test
    void theSweepLeavesAnIdsLastCommitToTheCommitCheck() throws Exception {
        String topic = newTopic();
        TransactionalProducer p = producer("sweep-commit-p1-0-0");
        ResumableTransaction t = withStrayRecords(p, topic, "c", 2);
        p.commitTransaction();

        assertEquals(List.of(), sweep("sweep-commit", topic), "committed records are never aborted");
        assertEquals(List.of(0L, 2L), ends(topic).get(1), "partition 1 still open: the sweep wrote nothing");

        CommitMarkers.verifyCommitted(admin, t, props());
        assertEquals(Set.of("0:c-0", "0:c-1", "1:c-stray-0", "1:c-stray-1"), Set.copyOf(committed(topic)));
    }

    @Test
    void theSweepWaitsWhileTheIdHasATransactionInProgressAndAbortsOnceItEnded() throws Exception {
        String topic = newTopic();
        TransactionalProducer p = producer("sweep-busy-p1-0-0");
        ResumableTransaction stale = withStrayRecords(p, topic, "old", 2);
        p.abortTransaction();
        p.beginTransaction();
        p.send(new ProducerRecord<>(topic, 0, null, "new-0".getBytes(StandardCharsets.UTF_8)));
        p.preCommit();

        assertEquals(List.of(), sweep("sweep-busy", topic), "the id has a transaction in progress");
        assertEquals(List.of(0L, 2L), ends(topic).get(1));

        p.commitTransaction();
        List<EndedTransactionSweep.Aborted> aborted = sweep("sweep-busy", topic);
        assertEquals(List.of(new TopicPartition(topic, 1)), aborted.stream().map(EndedTransactionSweep.Aborted::partition)
                .toList(), "the stale transaction is older than the id's last, committed one");
        assertEquals(stale.epoch(), aborted.get(0).producerEpoch());
        assertEquals(List.of("0:new-0"), committed(topic), "the new transaction committed, the stale one aborted");
        assertEquals(List.of(3L, 3L), ends(topic).get(1));
    }

    @Test
    void theSweepTouchesOnlyTheIdsItIsGiven() throws Exception {
        String topic = newTopic();
        TransactionalProducer p = producer("sweep-other-p1-0-0");
        withStrayRecords(p, topic, "x", 2);
        p.abortTransaction();

        assertEquals(List.of(), EndedTransactionSweep.abortEnded(admin, "sweep\\-other\\-p[0-9]+-[0-9]+-[0-9]+",
                id -> !id.equals("sweep-other-p1-0-0"), List.of(topic), List.of(), props()));
        assertEquals(List.of(), sweep("sweep-else", topic), "another prefix's sweep");
        assertEquals(List.of(0L, 2L), ends(topic).get(1), "still open: not ours to abort");
        assertEquals(1, sweep("sweep-other", topic).size());
    }
}
