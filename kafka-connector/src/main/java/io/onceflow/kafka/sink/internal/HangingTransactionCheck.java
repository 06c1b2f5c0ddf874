package io.onceflow.kafka.sink.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;

/**
 * Refuses to commit a transaction that would also commit records of a <em>hanging</em> transaction: records an
 * earlier epoch of the same producer id wrote to a partition whose abort marker was never written. The broker
 * has been seen to skip those markers when the partition had no leader at that moment (a broker paused long
 * enough to be fenced by its controller: "Couldn't find leader endpoint … these partitions are likely deleted
 * already and hence can be skipped"). The partition then still counts the old records as part of the
 * producer's open transaction, and the next commit by that producer id — a later epoch, the same transactional
 * id — makes them visible: a duplicate of output that was meant to be aborted.
 *
 * <p>At the pre-commit each partition the transaction wrote to is asked where this producer's open transaction
 * begins ({@code DescribeProducers}: sent as the barrier arrives, beside the flush, see {@link BarrierChecks}); if
 * that is before the transaction's own first record there, once every record is acknowledged, the pre-commit fails.
 * The transaction is then aborted with the records before it (the abort marker covers everything the producer id
 * wrote since the transaction began), and the job restarts from its last completed checkpoint. The request is the
 * barrier's one ({@link BarrierChecks}): one per broker per checkpoint and subtask.
 *
 * <p>The same skip can drop the <em>commit</em> markers of a transaction the coordinator has completed (seen right
 * after a {@code kill -9} and restart of a single broker). Those records were meant to be visible and must not be
 * aborted here: {@link CommitMarkers} checks every commit, and writes a dropped commit marker, before the producer
 * id writes again, so the records this check finds are those of transactions that were aborted.
 */
public final class HangingTransactionCheck {

    private HangingTransactionCheck() {
    }

    /**
     * @param transaction the pre-committed transaction, with the offset of its first record in each partition
     * @param asked       what its partitions said ({@link OpenTransactions#all}), asked once one of its records
     *                    was acknowledged: {@link BarrierChecks} asks them
     * @throws KafkaException when a partition holds records of the transaction's producer id in its open
     *                        transaction from before its first record there
     */
    static void verify(ResumableTransaction transaction, Map<TopicPartition, List<ProducerState>> asked) {
        Map<TopicPartition, Long> firstOffsets = transaction.firstOffsets();
        String transactionalId = transaction.transactionalId();
        long producerId = transaction.producerId();
        Map<TopicPartition, ProducerState> open = OpenTransactions.of(asked, producerId);
        List<String> hanging = new ArrayList<>();
        for (Map.Entry<TopicPartition, Long> e : firstOffsets.entrySet()) {
            ProducerState p = open.get(e.getKey());
            if (p != null && p.currentTransactionStartOffset().getAsLong() < e.getValue()) {
                hanging.add(e.getKey() + " from offset " + p.currentTransactionStartOffset().getAsLong()
                        + " (this transaction's first record there: " + e.getValue() + ")");
            }
        }
        if (!hanging.isEmpty()) {
            throw new KafkaException("transaction " + transactionalId + " (producerId " + producerId + ") cannot be "
                    + "committed: its partitions hold records an earlier transaction of the same producer left open, "
                    + "whose abort the broker never wrote there (a hanging transaction): " + String.join(", ", hanging)
                    + ". Committing would make them visible a second time; the transaction is aborted with them and "
                    + "the job restarts from its last completed checkpoint");
        }
    }
}
