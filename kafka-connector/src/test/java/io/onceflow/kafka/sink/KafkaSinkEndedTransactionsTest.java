package io.onceflow.kafka.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.kafka.sink.internal.StrayTransactionalBatch;
import io.onceflow.kafka.testing.KafkaTestCluster;
import io.onceflow.twophase.TransactionContext;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Transaction markers the broker dropped, as the sink's handler meets them. An abort marker dropped in a partition the
 * sink's producer id does not write to again no longer holds that partition's {@code read_committed} readers back for
 * good: the sink sweeps its topics once the first checkpoint of a run completes. A commit marker dropped is written
 * at the writer's next barrier (or at once when no barrier follows), before the producer can write again. The
 * dropped markers are made with {@link StrayTransactionalBatch} on a broker without partition verification; the
 * outcome is read by an independent read_committed consumer.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class KafkaSinkEndedTransactionsTest {

    @RegisterExtension
    static final KafkaTestCluster kafka = new KafkaTestCluster()
            .withBrokerProperty("transaction.partition.verification.enable", "false");

    private static KafkaTransactionHandler<String> handler(String prefix, String topic) {
        return Pipelines.stringHandler(kafka, prefix, topic);
    }

    private static TransactionContext context(long restoredCheckpoint, long sequence) {
        return new TransactionContext("sweep-test", "output", 0, 1, restoredCheckpoint, sequence);
    }

    /** Last stable offset of the partition, then its high watermark. */
    private static List<Long> ends(TopicPartition tp) throws Exception {
        try (Admin admin = kafka.createAdmin()) {
            long stable = admin.listOffsets(Map.of(tp, OffsetSpec.latest()),
                    new ListOffsetsOptions(IsolationLevel.READ_COMMITTED)).partitionResult(tp).get().offset();
            long high = admin.listOffsets(Map.of(tp, OffsetSpec.latest()),
                    new ListOffsetsOptions(IsolationLevel.READ_UNCOMMITTED)).partitionResult(tp).get().offset();
            return List.of(stable, high);
        }
    }

    @Test
    void theFirstCompletedCheckpointOfARunAbortsWhatADroppedAbortMarkerLeftOpen() throws Exception {
        String topic = Pipelines.createTopic(kafka, "ended", 2);
        KafkaTransactionHandler<String> crashed = handler("ended", topic);
        KafkaTransaction aborted = crashed.beginTransaction(context(0, 0));
        crashed.write(aborted, "v");
        crashed.preCommit(aborted, 1);
        TopicPartition written = aborted.resumable.firstOffsets().keySet().iterator().next();
        TopicPartition other = new TopicPartition(topic, 1 - written.partition());
        // the transaction also wrote to the other partition, and the broker dropped the abort marker there
        StrayTransactionalBatch.append(kafka.bootstrapServers(), other, aborted.transactionalId,
                aborted.resumable.producerId(), aborted.resumable.epoch(), 0, List.of("stray"));
        crashed.abort(aborted);
        crashed.close(0);
        assertEquals(List.of(0L, 1L), ends(other), "the other partition's readers are held at the open record");

        // the next run: its transactions write only to the first partition (same key), yet the other one is freed
        KafkaTransactionHandler<String> restarted = handler("ended", topic);
        KafkaTransaction next = restarted.beginTransaction(context(0, 0));
        assertEquals(aborted.transactionalId, next.transactionalId, "the same id, so the same producer id");
        restarted.write(next, "v");
        restarted.preCommit(next, 1);
        restarted.commit(next);
        assertEquals(List.of(0L, 1L), ends(other), "not swept before a checkpoint of the run completed");
        restarted.checkpointTaken(0, 2);
        restarted.checkpointCompleted(0, 2);

        assertEquals(List.of(2L, 2L), ends(other), "aborted: an abort marker after the open record");
        assertEquals(List.of("v,v"), Pipelines.readCommitted(kafka, topic), "the committed record once, the stray none");
        restarted.close(0);
    }

    /**
     * A crashed run's transaction, still open, wrote "v" to one partition of a topic the next run does not write to,
     * and the broker dropped its abort marker in the topic's other partition (the stray record there). The next run
     * aborts the transaction as it starts, {@code asRestored}: as the one its restored checkpoint says was open, else
     * as a lingering one; returns that other partition once the next run's first checkpoint completed.
     */
    private static TopicPartition abortAtTheNextStartWithADroppedMarker(String prefix, boolean asRestored)
            throws Exception {
        String earlier = Pipelines.createTopic(kafka, prefix, 2);
        String later = Pipelines.createTopic(kafka, prefix + "-later", 1);
        KafkaTransactionHandler<String> crashed = handler(prefix, earlier);
        KafkaTransaction open = crashed.beginTransaction(context(0, 0));
        crashed.write(open, "v");
        crashed.preCommit(open, 1); // all acknowledged: for the coordinator, a transaction in progress like any other
        TopicPartition written = open.resumable.firstOffsets().keySet().iterator().next();
        TopicPartition other = new TopicPartition(earlier, 1 - written.partition());
        StrayTransactionalBatch.append(kafka.bootstrapServers(), other, open.transactionalId,
                open.resumable.producerId(), open.resumable.epoch(), 0, List.of("stray"));

        // the next run's serializer names only the later topic, and it writes nothing to the earlier one
        KafkaTransactionHandler<String> next = handler(prefix, later);
        if (asRestored) {
            next.recoverAndAbort(new KafkaTransaction(open.transactionalId, null, null));
        } else {
            next.abortLingeringTransactions(KafkaTransactionHandlerTest.sinkContext(0, 1));
        }
        assertEquals(List.of(2L, 2L), ends(written), "an abort marker where the coordinator knew of the transaction");
        assertEquals(List.of(0L, 1L), ends(other), "and none where the broker dropped it: readers held");
        commitAndComplete(next, next.beginTransaction(context(1, 0)), "w", 2);
        assertEquals(List.of(), Pipelines.readCommitted(kafka, earlier), "the aborted and the stray record: none");
        assertEquals(List.of("w,w"), Pipelines.readCommitted(kafka, later));
        crashed.close(0);
        next.close(0);
        return other;
    }

    @Test
    void theTopicsOfATransactionOpenAtTheRestoredCheckpointAreSweptThoughTheNextRunDoesNotWriteThere()
            throws Exception {
        TopicPartition other = abortAtTheNextStartWithADroppedMarker("ended-restored", true);
        assertEquals(List.of(2L, 2L), ends(other), "the sweep of the first completed checkpoint aborted it there");
    }

    @Test
    void theTopicsOfALingeringTransactionAbortedAtAStartAreSweptThoughTheNextRunDoesNotWriteThere() throws Exception {
        TopicPartition other = abortAtTheNextStartWithADroppedMarker("ended-lingering", false);
        assertEquals(List.of(2L, 2L), ends(other), "the sweep of the first completed checkpoint aborted it there");
    }

    /**
     * Writes {@code value} in {@code t}, pre-commits it for checkpoint {@code checkpointId}, commits it and completes
     * that checkpoint (the run's first to complete is the handler's first sweep).
     */
    private static void commitAndComplete(KafkaTransactionHandler<String> handler, KafkaTransaction t,
                                                          String value, long checkpointId) throws Exception {
        handler.write(t, value);
        handler.preCommit(t, checkpointId);
        handler.checkpointTaken(0, checkpointId);
        handler.commit(t);
        handler.checkpointCompleted(0, checkpointId);
    }

    /** A handler whose serializer picks the topic per record ("topic|value"), so it names none. */
    private static KafkaTransactionHandler<String> topicPerRecordHandler(String prefix) {
        return Pipelines.stringHandler(kafka, prefix, element -> {
            String[] parts = element.split("\\|");
            byte[] value = parts[1].getBytes(java.nio.charset.StandardCharsets.UTF_8);
            return new org.apache.kafka.clients.producer.ProducerRecord<>(parts[0], value, value);
        });
    }

    /**
     * Writes "v" to {@code topic} in the open transaction {@code t} and a stray record of its producer id to the
     * topic's other partition, which its coordinator does not know: its abort writes no marker there, as a dropped
     * one would. Returns that other partition.
     */
    private static TopicPartition writeWithAStrayRecord(KafkaTransactionHandler<String> handler, KafkaTransaction t,
                                                        String topic) throws Exception {
        handler.write(t, topic + "|v");
        t.producer.flush();
        org.apache.kafka.clients.admin.TransactionDescription d;
        try (Admin admin = kafka.createAdmin()) {
            d = admin.describeTransactions(List.of(t.transactionalId)).description(t.transactionalId).get();
        }
        TopicPartition written = d.topicPartitions().iterator().next();
        TopicPartition other = new TopicPartition(topic, 1 - written.partition());
        StrayTransactionalBatch.append(kafka.bootstrapServers(), other, t.transactionalId, d.producerId(),
                (short) d.producerEpoch(), 0, List.of("stray"));
        return other;
    }

    @Test
    void theTopicsOfAWriterThatEndedInAFailoverAreSweptByTheNextWriterOfTheProcess() throws Exception {
        String earlier = Pipelines.createTopic(kafka, "ended-failover", 2);
        String later = Pipelines.createTopic(kafka, "ended-failover-later", 1);
        KafkaTransactionHandler<String> handler = topicPerRecordHandler("ended-failover");
        KafkaTransaction failed = handler.beginTransaction(context(0, 0));
        TopicPartition other = writeWithAStrayRecord(handler, failed, earlier);
        // the job fails before the transaction's pre-commit: the writer aborts it and ends
        handler.abort(failed);
        handler.close(0);
        assertEquals(List.of(0L, 1L), ends(other), "the abort marker dropped there: readers held");

        // the restarted writer of the same process writes only to the later topic
        commitAndComplete(handler, handler.beginTransaction(context(0, 0)), later + "|w", 2);
        assertEquals(List.of(2L, 2L), ends(other), "the sweep of the first completed checkpoint aborted it there");
        assertEquals(List.of("w,w"), Pipelines.readCommitted(kafka, later));
        handler.close(0);
    }

    /**
     * A process's run with a serializer that picks the topic per record, killed after a failover: checkpoint 1 commits
     * "a" to {@code committedTo}; the transaction open at checkpoint 2 then writes to {@code strayIn}, fails and is
     * aborted, its abort marker dropped in that topic's other partition; the process is killed before any sweep.
     */
    private record Crashed(KafkaTransactionHandler<String> handler, KafkaTransaction openAtCheckpoint,
                           TopicPartition other, List<Long> held) {
        static Crashed run(String prefix, String committedTo, String strayIn) throws Exception {
            KafkaTransaction.Serializer checkpoint = new KafkaTransaction.Serializer();
            KafkaTransactionHandler<String> crashed = topicPerRecordHandler(prefix);
            KafkaTransaction committed = crashed.beginTransaction(context(0, 0));
            crashed.write(committed, committedTo + "|a");
            crashed.preCommit(committed, 1);
            crashed.checkpointTaken(0, 1);
            crashed.commit(committed);
            // checkpoint 2: nothing pre-committed, this transaction open
            KafkaTransaction open = crashed.beginTransaction(context(0, 1));
            byte[] openAtCheckpoint = checkpoint.serialize(open);
            TopicPartition other = writeWithAStrayRecord(crashed, open, strayIn);
            crashed.abort(open);
            List<Long> held = ends(other);
            assertTrue(held.get(0) < held.get(1), "the stray record holds readers: " + held);
            return new Crashed(crashed, checkpoint.deserialize(checkpoint.getVersion(), openAtCheckpoint), other,
                    held);
        }

        /** The partition as it is once an abort marker follows the stray record. */
        List<Long> swept() {
            return List.of(held.get(1) + 1, held.get(1) + 1);
        }
    }

    @Test
    void theTopicsAWriterHadWrittenToBeforeTheRestoredCheckpointAreSweptByTheRestoredRun() throws Exception {
        String earlier = Pipelines.createTopic(kafka, "ended-writer", 2);
        String later = Pipelines.createTopic(kafka, "ended-writer-later", 1);
        Crashed crashed = Crashed.run("ended-writer", earlier, earlier);

        KafkaTransactionHandler<String> restored = topicPerRecordHandler("ended-writer");
        restored.recoverAndAbort(crashed.openAtCheckpoint());
        commitAndComplete(restored, restored.beginTransaction(context(2, 0)), later + "|w", 3);
        assertEquals(crashed.swept(), ends(crashed.other()),
                "the sweep of the first completed checkpoint aborted it there");
        crashed.handler().close(0);
        restored.close(0);
    }

    /**
     * A crashed run ({@link Crashed}) whose aborted transaction wrote to {@code elsewhere} for the first time after
     * checkpoint 2, so that no checkpoint names that topic, and the next process's handler, restored from checkpoint 2
     * with its look for partitions held open run by {@code looks}.
     */
    private record Unnamed(Crashed crashed, KafkaTransactionHandler<String> restored, String later, String elsewhere) {
        static Unnamed restore(String prefix, java.util.concurrent.Executor looks) throws Exception {
            String later = Pipelines.createTopic(kafka, prefix, 1);
            String elsewhere = Pipelines.createTopic(kafka, prefix + "-elsewhere", 2);
            Crashed crashed = Crashed.run(prefix, later, elsewhere);
            assertEquals(Set.of(later), crashed.openAtCheckpoint().writerTopics,
                    "the checkpoint names the later topic only");
            KafkaTransactionHandler<String> restored = topicPerRecordHandler(prefix);
            if (looks != null) {
                restored.lookExecutor = looks;
            }
            restored.recoverAndAbort(crashed.openAtCheckpoint());
            return new Unnamed(crashed, restored, later, elsewhere);
        }

        /** The stray record aborted, and the committed records of both processes, each once. */
        void assertSwept(String... committed) throws Exception {
            assertEquals(crashed.swept(), ends(crashed.other()), "an abort marker follows the stray record");
            assertEquals(List.of(), Pipelines.readCommitted(kafka, elsewhere),
                    "the aborted and the stray record: none");
            assertEquals(List.of(committed), Pipelines.readCommitted(kafka, later));
            crashed.handler().close(0);
            restored.close(0);
        }
    }

    @Test
    void aTopicFirstWrittenAfterTheRestoredCheckpointIsFoundByTheNextProcessThoughNothingNamesIt() throws Exception {
        Unnamed u = Unnamed.restore("ended-unknown", null);
        KafkaTransaction next = u.restored().beginTransaction(context(2, 0));
        assertTrue(u.restored().heldLook().get(30, TimeUnit.SECONDS).contains(u.crashed().other()),
                "the process's look for partitions with an open transaction finds it");
        commitAndComplete(u.restored(), next, u.later() + "|w", 3);
        u.assertSwept("a,a", "w,w"); // by the sweep of the first completed checkpoint
    }

    @Test
    void aLookDoneAfterTheFirstSweepIsSweptAtTheNextCompletedCheckpoint() throws Exception {
        List<Runnable> looks = new java.util.concurrent.CopyOnWriteArrayList<>();
        Unnamed u = Unnamed.restore("ended-late-look", looks::add); // the look waits until the test runs it
        KafkaTransactionHandler<String> restored = u.restored();
        commitAndComplete(restored, restored.beginTransaction(context(2, 0)), u.later() + "|w", 3);
        assertEquals(1, looks.size(), "the first writer started the look");
        assertEquals(u.crashed().held(), ends(u.crashed().other()), "the first sweep ran before the look was done");

        looks.get(0).run();
        assertTrue(restored.heldLook().get(30, TimeUnit.SECONDS).contains(u.crashed().other()), "the look found it");
        // the next periodic sweep is a minute away
        commitAndComplete(restored, restored.beginTransaction(context(2, 1)), u.later() + "|x", 4);
        u.assertSwept("a,a", "w,w", "x,x");
    }

    @Test
    void aSinkWhoseSerializerNamesItsTopicsDoesNotLookThroughTheCluster() throws Exception {
        String topic = Pipelines.createTopic(kafka, "ended-named", 1);
        KafkaTransactionHandler<String> named = handler("ended-named", topic);
        named.abort(named.beginTransaction(context(0, 0)));
        assertNull(named.heldLook(), "every record goes to a topic it names, which the sweeps know");
        named.close(0);
    }

    /**
     * Writes "v" in {@code t} and pre-commits it for checkpoint 1, then gives it, as a dropped commit marker would leave
     * it, two records in the partition it did not write to, which its committable names as the sink's does when the
     * producer wrote there: its coordinator does not know that partition, so the commit writes no marker there.
     *
     * @param strayAt where the committable says the transaction began in that partition: 0 at the first stray record,
     *                1 after it (records of its producer id open from before its first record there)
     * @return that other partition
     */
    private static TopicPartition preCommitWithStrayRecords(KafkaTransactionHandler<String> handler, KafkaTransaction t,
                                                            String topic, long strayAt) throws Exception {
        handler.write(t, "v");
        handler.preCommit(t, 1);
        TopicPartition written = t.resumable.firstOffsets().keySet().iterator().next();
        TopicPartition other = new TopicPartition(topic, 1 - written.partition());
        long first = StrayTransactionalBatch.append(kafka.bootstrapServers(), other, t.transactionalId,
                t.resumable.producerId(), t.resumable.epoch(), 0, List.of("stray-0", "stray-1"));
        Map<TopicPartition, Long> offsets = new java.util.HashMap<>(t.resumable.firstOffsets());
        offsets.put(other, first + strayAt);
        t.resumable = new io.onceflow.kafka.sink.internal.ResumableTransaction(t.transactionalId,
                t.resumable.producerId(), t.resumable.epoch(), t.resumable.transactionV2(), offsets);
        return other;
    }

    /** A handler of a new two-partition topic, and its first transaction, pre-committed with stray records. */
    private record Dropped(KafkaTransactionHandler<String> handler, KafkaTransaction first, TopicPartition other,
                           String topic) {
        static Dropped start(String prefix, long strayAt) throws Exception {
            String topic = Pipelines.createTopic(kafka, prefix, 2);
            KafkaTransactionHandler<String> handler = KafkaSinkEndedTransactionsTest.handler(prefix, topic);
            KafkaTransaction first = handler.beginTransaction(context(0, 0));
            return new Dropped(handler, first, preCommitWithStrayRecords(handler, first, topic, strayAt), topic);
        }
    }

    @Test
    void aCommitMarkerTheBrokerDroppedIsWrittenAtTheNextBarrier() throws Exception {
        Dropped d = Dropped.start("commit-next", 0);
        KafkaTransactionHandler<String> handler = d.handler();
        KafkaTransaction second = handler.beginTransaction(context(0, 1));
        handler.checkpointTaken(0, 1);
        handler.write(second, "v"); // the same key: the same partition as the first

        handler.commit(d.first());
        assertEquals(List.of(0L, 2L), ends(d.other()), "right after the commit the records there are still open");
        assertEquals(List.of("v,v"), Pipelines.readCommitted(kafka, d.topic()));

        handler.preCommit(second, 2);
        assertEquals(List.of(3L, 3L), ends(d.other()), "the next barrier wrote the commit marker");
        handler.checkpointTaken(0, 2);
        handler.commit(second);
        assertEquals(List.of(",stray-0", ",stray-1", "v,v", "v,v"),
                Pipelines.readCommitted(kafka, d.topic()).stream().sorted().toList(), "the dropped commit's records once");
        handler.close(0);
    }

    @Test
    void aBarrierWithNothingToPreCommitChecksTheCommitsBeforeIt() throws Exception {
        Dropped d = Dropped.start("commit-idle", 0);
        KafkaTransactionHandler<String> handler = d.handler();
        handler.beginTransaction(context(0, 1)); // stays empty: the writer pre-commits nothing at the next barrier
        handler.checkpointTaken(0, 1);
        handler.commit(d.first());
        assertEquals(List.of(0L, 2L), ends(d.other()));

        handler.checkpointTaken(0, 2);
        assertEquals(List.of(3L, 3L), ends(d.other()), "the barrier wrote the commit marker");
        assertEquals(3, Pipelines.readCommitted(kafka, d.topic()).size());
        handler.close(0);
    }

    @Test
    void aCommitWithNoTransactionOpenAfterItIsCheckedAtOnce() throws Exception {
        Dropped d = Dropped.start("commit-last", 0);
        KafkaTransactionHandler<String> handler = d.handler();
        handler.checkpointTaken(0, 1); // the end of the input: the writer begins no transaction after this one

        handler.commit(d.first());
        assertEquals(List.of(3L, 3L), ends(d.other()), "no barrier follows: the commit wrote the marker itself");
        handler.close(0);
    }

    @Test
    void aWriterClosedBeforeItsNextBarrierChecksItsLastCommits() throws Exception {
        Dropped d = Dropped.start("commit-stop", 0);
        KafkaTransactionHandler<String> handler = d.handler();
        KafkaTransaction open = handler.beginTransaction(context(0, 1));
        handler.checkpointTaken(0, 1);
        handler.commit(d.first()); // a graceful stop's last checkpoint: committed, then the writer closes
        handler.abort(open);
        assertEquals(List.of(0L, 2L), ends(d.other()));

        handler.close(0);
        assertEquals(List.of(3L, 3L), ends(d.other()), "the close wrote the commit marker");
    }

    @Test
    void aCommitWhoseMarkersCannotBeToldDeclinesEveryLaterBarrierUntilTheyCan() throws Exception {
        // the committable says the transaction began in the other partition after records of its producer id that are
        // open there: whether those were meant to be committed cannot be told
        Dropped d = Dropped.start("commit-unknown", 1);
        KafkaTransactionHandler<String> handler = d.handler();
        KafkaTransaction second = handler.beginTransaction(context(0, 1));
        handler.checkpointTaken(0, 1);
        handler.commit(d.first());
        handler.write(second, "v"); // the same key: the same partition as the first

        KafkaException declined = assertThrows(KafkaException.class, () -> handler.preCommit(second, 2));
        assertTrue(declined.getMessage().contains("open from before its first record: " + d.other() + " from offset 0"),
                declined.getMessage());
        assertThrows(KafkaException.class, () -> handler.checkpointTaken(0, 3), "checked again at every barrier");
        assertThrows(KafkaException.class, () -> handler.checkpointCompleted(0, 3),
                "its producer is never handed back unchecked");
        assertEquals(List.of(0L, 2L), ends(d.other()), "nothing was written there");
        handler.abort(second);
        handler.close(0);
    }
}
