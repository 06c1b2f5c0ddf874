package io.onceflow.kafka.sink.internal;

import java.util.Objects;

/**
 * What {@link TransactionalProducer#resumeAndCommit} did with a {@link ResumableTransaction}.
 *
 * @param outcome     committed now, had been committed already, or can no longer be committed
 * @param transaction the transaction
 * @param message     one human-readable sentence or more: what the coordinator showed and, for
 *                    {@link Outcome#FENCED_OR_EXPIRED}, the likely cause and what to change
 */
public record CommitResult(Outcome outcome, ResumableTransaction transaction, String message) {
    public CommitResult {
        Objects.requireNonNull(outcome, "outcome");
        Objects.requireNonNull(transaction, "transaction");
        Objects.requireNonNull(message, "message");
    }

    /** How a commit of a resumed transaction ended. */
    public enum Outcome {
        /** This call's EndTxn committed the transaction. */
        COMMITTED,
        /**
         * The transaction had been committed before (by the producer that wrote it, before it crashed, or by an
         * earlier recovery): nothing was done, nothing is duplicated. Harmless.
         */
        ALREADY_COMMITTED,
        /**
         * The transaction can no longer be committed: the broker aborted it (most likely because it stayed open
         * longer than {@code transaction.timeout.ms}), another producer took over its transactional id (a newer
         * epoch: a second sink with the same transactional-id prefix, or a restore from an older checkpoint), or
         * the transactional id expired. Its records are, or may be, invisible to {@code read_committed}
         * consumers: possible data loss.
         */
        FENCED_OR_EXPIRED;

        /** Whether the transaction's records may be missing downstream. */
        public boolean isDataPossiblyLost() {
            return this == FENCED_OR_EXPIRED;
        }
    }

    public boolean isCommitted() {
        return outcome == Outcome.COMMITTED || outcome == Outcome.ALREADY_COMMITTED;
    }

    @Override
    public String toString() {
        return outcome + ": " + message;
    }
}
