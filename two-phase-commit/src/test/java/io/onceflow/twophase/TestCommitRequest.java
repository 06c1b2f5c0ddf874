package io.onceflow.twophase;

import io.onceflow.api.sink.Committer;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/** A commit request that remembers what the committer said about it. */
public final class TestCommitRequest<C> implements Committer.CommitRequest<C> {

    /** What became of a request; {@code COMMITTED} when the committer left it untouched. */
    public enum Outcome { COMMITTED, ALREADY_COMMITTED, RETRY, FAILED_KNOWN, FAILED_UNKNOWN }

    private final C committable;
    private final int retries;
    private Outcome outcome = Outcome.COMMITTED;
    private Throwable failure;

    public TestCommitRequest(C committable, int retries) {
        this.committable = committable;
        this.retries = retries;
    }

    public static <C> List<TestCommitRequest<C>> of(Collection<C> committables) {
        List<TestCommitRequest<C>> list = new ArrayList<>();
        committables.forEach(c -> list.add(new TestCommitRequest<>(c, 0)));
        return list;
    }

    /** Commits {@code committables} the way the runtime does for one checkpoint, and returns the requests. */
    public static <C> List<TestCommitRequest<C>> commit(Committer<C> committer, Collection<C> committables)
            throws Exception {
        List<TestCommitRequest<C>> requests = of(committables);
        committer.commit(new ArrayList<>(requests));
        return requests;
    }

    public Outcome outcome() {
        return outcome;
    }

    public Throwable failure() {
        return failure;
    }

    @Override
    public C getCommittable() {
        return committable;
    }

    @Override
    public int getNumberOfRetries() {
        return retries;
    }

    @Override
    public void signalFailedWithKnownReason(Throwable cause) {
        outcome = Outcome.FAILED_KNOWN;
        failure = cause;
    }

    @Override
    public void signalFailedWithUnknownReason(Throwable cause) {
        outcome = Outcome.FAILED_UNKNOWN;
        failure = cause;
    }

    @Override
    public void retryLater() {
        outcome = Outcome.RETRY;
    }

    @Override
    public void updateAndRetryLater(C committable) {
        throw new UnsupportedOperationException("not used by the two-phase-commit sink");
    }

    @Override
    public void signalAlreadyCommitted() {
        outcome = Outcome.ALREADY_COMMITTED;
    }
}
