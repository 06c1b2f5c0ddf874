package io.onceflow.wal;

import io.onceflow.api.sink.SinkInitContext;
import java.io.Serializable;

/**
 * Hands one checkpoint's records to the external system, once the checkpoint completed. Created per sink
 * subtask by its {@link Factory}; called on the subtask's thread.
 *
 * <p>Used with a {@link CheckpointCommitter}, which records a batch as sent after this returns {@code true}:
 * a crash between the two sends the batch again after the restart. Only a system that can write the batch
 * and the record of it in one transaction closes that window: see {@link TransactionalWalSender}.
 *
 * @param <T> the records
 */
@FunctionalInterface
public interface WalSender<T> extends AutoCloseable {

    /**
     * Sends the records of checkpoint {@code checkpointId} written by sink subtask {@code subtask}.
     *
     * @param values streamed from checkpoint storage; may be iterated more than once (each pass reads the
     *               batch again), never all in memory
     * @return true once sent; false to be called again with the same batch at the next completed checkpoint
     *         (later batches of this subtask wait)
     * @throws Exception fails the job, which restarts and sends the batch again
     */
    boolean sendValues(Iterable<T> values, long checkpointId, int subtask) throws Exception;

    @Override
    default void close() throws Exception {
    }

    /** Creates the sender of one sink subtask (its connection, say). */
    @FunctionalInterface
    interface Factory<T> extends Serializable {
        WalSender<T> create(SinkInitContext context) throws Exception;
    }
}
