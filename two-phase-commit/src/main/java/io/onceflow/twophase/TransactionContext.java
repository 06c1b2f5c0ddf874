package io.onceflow.twophase;

/**
 * What a {@link TransactionHandler} knows about a transaction it is asked to begin, so it can give the
 * transaction a deterministic external name (a transactional id, a file name).
 *
 * <p>The id of the checkpoint a transaction will belong to is not known when it begins (checkpoint
 * ids are not contiguous: aborted checkpoints leave gaps), so transactions are named by the writer
 * that begins them instead: {@link #transactionName()} is {@code <subtask>-<restored checkpoint>-<sequence>}.
 * No transaction named by a writer restored from checkpoint {@code m} is referenced by checkpoint
 * {@code m} or any earlier one, and checkpoint ids only grow, so a new transaction never gets the
 * name of a transaction that a restorable checkpoint still refers to; it may get the name of garbage
 * left behind by an earlier failed attempt, which the handler must then overwrite (truncate, fence).
 *
 * @param jobName             the job's name
 * @param operatorUid         the sink operator's uid
 * @param subtaskIndex        the index of the sink subtask beginning the transaction
 * @param parallelism         the sink operator's parallelism
 * @param restoredCheckpointId the checkpoint the writer was restored from, 0 for a writer that started fresh
 * @param sequenceNumber      how many transactions this writer began before this one
 */
public record TransactionContext(String jobName, String operatorUid, int subtaskIndex, int parallelism,
                                 long restoredCheckpointId, long sequenceNumber) {

    /** {@code <subtask>-<restored checkpoint>-<sequence>}: unique among the transactions a checkpoint can refer to. */
    public String transactionName() {
        return subtaskIndex + "-" + restoredCheckpointId + "-" + sequenceNumber;
    }
}
