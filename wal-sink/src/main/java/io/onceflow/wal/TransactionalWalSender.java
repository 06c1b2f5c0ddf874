package io.onceflow.wal;

import io.onceflow.api.sink.SinkInitContext;
import java.io.Serializable;

/**
 * Sends a checkpoint's records <em>and</em> records that they were sent in one transaction of the external
 * system, so a crash at any moment leaves either both or neither: no batch is ever sent twice. The JDBC
 * write-ahead sink is one ({@link io.onceflow.wal.jdbc.JdbcWriteAheadSink}).
 *
 * @param <T> the records
 */
public interface TransactionalWalSender<T> extends AutoCloseable {

    /** What became of a batch. */
    enum Outcome {
        /** Sent and recorded, in one transaction. */
        SENT,
        /** The record says it was sent before (a replay after a crash): nothing was sent. */
        ALREADY_SENT,
        /** Not sent: try again at the next completed checkpoint. */
        RETRY_LATER
    }

    /**
     * In one transaction: unless the record says this (subtask, checkpoint) of this operator was sent, sends
     * {@code values} and records it.
     *
     * @param values streamed from checkpoint storage; may be iterated more than once
     */
    Outcome sendAndRecord(Iterable<T> values, long checkpointId, int subtask) throws Exception;

    /** Whether the record says this (subtask, checkpoint) was sent, for checks and tests. */
    boolean isRecorded(int subtask, long checkpointId) throws Exception;

    @Override
    default void close() throws Exception {
    }

    /** Creates the sender of one sink subtask. */
    @FunctionalInterface
    interface Factory<T> extends Serializable {
        TransactionalWalSender<T> create(SinkInitContext context) throws Exception;
    }
}
