package io.onceflow.kafka.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.onceflow.kafka.sink.internal.StrayTransactionalBatch;
import io.onceflow.kafka.testing.KafkaTestCluster;
import io.onceflow.twophase.TransactionContext;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * An abort marker the broker dropped, in a partition the sink's producer id does not write to again, no longer holds
 * that partition's {@code read_committed} readers back for good: the sink sweeps its topics once the first checkpoint
 * of a run completes. The dropped marker is made with {@link StrayTransactionalBatch} on a broker without partition
 * verification; the outcome is read by an independent read_committed consumer.
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
}
