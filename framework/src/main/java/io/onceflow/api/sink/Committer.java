package io.onceflow.api.sink;

import java.util.Collection;

/**
 * Commits what writers prepared. {@link #commit} receives the requests of one or more checkpoints in
 * checkpoint order and must be idempotent: a request may be one that was already committed before a
 * crash, which it reports with {@link CommitRequest#signalAlreadyCommitted()} or simply by succeeding.
 */
public interface Committer<C> extends AutoCloseable {

    void commit(Collection<CommitRequest<C>> requests) throws Exception;

    @Override
    default void close() throws Exception {
    }

    /**
     * One committable to commit. Leaving a request untouched means it was committed. A request can
     * instead ask to be retried at the next checkpoint completion, report that it was already
     * committed, or report a failure: with a known reason the committable is discarded and logged;
     * with an unknown reason the job fails.
     */
    interface CommitRequest<C> {

        C getCommittable();

        /** How many times this committable was retried already. */
        int getNumberOfRetries();

        void signalFailedWithKnownReason(Throwable cause);

        void signalFailedWithUnknownReason(Throwable cause);

        void retryLater();

        void updateAndRetryLater(C committable);

        void signalAlreadyCommitted();
    }
}
