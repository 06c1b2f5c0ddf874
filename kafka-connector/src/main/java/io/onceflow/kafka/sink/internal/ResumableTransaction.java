package io.onceflow.kafka.sink.internal;

import java.util.Map;
import java.util.Objects;
import org.apache.kafka.common.TopicPartition;

/**
 * Everything needed to commit a pre-committed Kafka transaction later, from another producer instance or
 * another process: the committable a two-phase-commit Kafka sink stores in its checkpoint.
 *
 * @param transactionalId the producer's {@code transactional.id}
 * @param producerId      the producer id the transaction coordinator gave that transactional id
 * @param epoch           the producer epoch of the open transaction, as known after the flush at pre-commit.
 *                        With transactions v2 (KIP-890) the coordinator bumps the epoch at the end of every
 *                        transaction, so this is the epoch returned by the previous commit or abort of the same
 *                        producer (or by {@code initTransactions()}), not the one of its first transaction; the
 *                        coordinator accepts EndTxn for the open transaction only with exactly this epoch
 * @param transactionV2   whether the transaction runs under transactions v2; the resuming producer must send
 *                        EndTxn in the same protocol version, else a commit retried after the coordinator
 *                        bumped the epoch (or rolled the producer id over at epoch 32766) is rejected as fenced
 *                        (FLINK-40689)
 * @param firstOffsets    per partition the transaction wrote to, the offset of its first record there: what
 *                        {@link CommitMarkers} looks for after the commit. Empty when not known (a committable of
 *                        a checkpoint written before they were kept)
 */
public record ResumableTransaction(String transactionalId, long producerId, short epoch, boolean transactionV2,
                                   Map<TopicPartition, Long> firstOffsets) {

    /** A transaction whose first offsets are not known. */
    public ResumableTransaction(String transactionalId, long producerId, short epoch, boolean transactionV2) {
        this(transactionalId, producerId, epoch, transactionV2, Map.of());
    }

    public ResumableTransaction {
        firstOffsets = Map.copyOf(Objects.requireNonNull(firstOffsets, "firstOffsets"));
        Objects.requireNonNull(transactionalId, "transactionalId");
        if (transactionalId.isEmpty()) {
            throw new IllegalArgumentException("empty transactionalId");
        }
        if (producerId < 0 || epoch < 0) {
            throw new IllegalArgumentException("invalid producer id " + producerId + " or epoch " + epoch + " for "
                    + transactionalId + " (a producer on which initTransactions() did not complete?)");
        }
    }

    @Override
    public String toString() {
        return "transaction " + transactionalId + " (producerId " + producerId + ", epoch " + epoch
                + (transactionV2 ? ", transactions v2)" : ", transactions v1)");
    }
}
