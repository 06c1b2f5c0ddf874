package io.onceflow.wal;

import io.onceflow.api.sink.SinkInitContext;
import java.io.Serializable;

/**
 * Records which checkpoints' batches a write-ahead sink sent, so that a replay after a crash skips them.
 * One per sink subtask, scoped to the job and the sink's operator. Batches of one writer subtask are sent
 * in checkpoint order, so a committer may keep just the highest checkpoint sent per (job, operator,
 * writer subtask), as both given here do.
 *
 * <p>The record is made after the batch was sent: a crash in between sends the batch again. That window is
 * closed only by a {@link TransactionalWalSender}.
 */
public interface CheckpointCommitter extends AutoCloseable {

    /** Whether writer subtask {@code subtask}'s batch of checkpoint {@code checkpointId} was recorded as sent. */
    boolean isCheckpointCommitted(int subtask, long checkpointId) throws Exception;

    /** Records durably that writer subtask {@code subtask}'s batch of checkpoint {@code checkpointId} was sent. */
    void commitCheckpoint(int subtask, long checkpointId) throws Exception;

    @Override
    default void close() throws Exception {
    }

    /** Creates the committer of one sink subtask. */
    @FunctionalInterface
    interface Factory extends Serializable {
        CheckpointCommitter create(SinkInitContext context) throws Exception;
    }

    /**
     * The default: commit marks in the job's checkpoint storage, beside its checkpoints ({@code
     * commit-marks/wal-<operator>-<subtask>@<checkpoint>}, one empty file per writer subtask, replaced as
     * it grows). Needs nothing beyond the checkpoint directory; gone when the job's storage is removed.
     */
    static Factory inCheckpointStorage() {
        return context -> new CheckpointCommitter() {
            private final io.onceflow.api.sink.CheckpointFiles files = context.getCheckpointFiles();

            private String name(int subtask) {
                return "wal-" + context.getOperatorUid() + "-" + subtask;
            }

            @Override
            public boolean isCheckpointCommitted(int subtask, long checkpointId) throws Exception {
                java.util.OptionalLong mark = files.readCommitMark(name(subtask));
                return mark.isPresent() && mark.getAsLong() >= checkpointId;
            }

            @Override
            public void commitCheckpoint(int subtask, long checkpointId) throws Exception {
                files.writeCommitMark(name(subtask), checkpointId);
            }
        };
    }
}
