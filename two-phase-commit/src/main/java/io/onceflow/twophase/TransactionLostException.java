package io.onceflow.twophase;

/**
 * Thrown by a {@link TransactionHandler} when the external system no longer has a pre-committed
 * transaction to commit: it aborted it (a transaction timeout passed, typically while the job was
 * down) or another writer fenced it. Its records will never become visible. The template then stops
 * the job with a message naming the checkpoint, the transaction and the records lost, instead of
 * restarting into the same failure, unless the sink accepts such losses with
 * {@link TwoPhaseCommitSink.Builder#ignoreFailuresAfterTransactionTimeout}.
 */
public class TransactionLostException extends Exception {

    public TransactionLostException(String message) {
        super(message);
    }

    public TransactionLostException(String message, Throwable cause) {
        super(message, cause);
    }
}
