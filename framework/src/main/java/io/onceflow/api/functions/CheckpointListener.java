package io.onceflow.api.functions;

/**
 * Hears when checkpoints complete or are aborted. Implemented by functions, source readers and sink
 * writers/committers that must act on completion (for example commit a transaction).
 *
 * <p>Contract, as in Flink: notifications are called on the task's own thread, never concurrently
 * with processing. They are best effort: one may be skipped (a failure right after completion), and
 * completing checkpoint {@code n} covers every lower id ("subsuming"). An aborted checkpoint does not
 * mean its data must be discarded: the next completed checkpoint covers a longer span. An exception
 * thrown from a notification fails the job attempt but does not revoke the checkpoint.
 */
public interface CheckpointListener {

    void notifyCheckpointComplete(long checkpointId) throws Exception;

    default void notifyCheckpointAborted(long checkpointId) throws Exception {
    }
}
