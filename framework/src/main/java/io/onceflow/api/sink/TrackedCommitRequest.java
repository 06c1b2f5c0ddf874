package io.onceflow.api.sink;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * A {@link Committer.CommitRequest} that remembers what the committer said about it. The runtime
 * commits through these; tests of a committer can use them the same way:
 *
 * <pre>{@code
 * List<TrackedCommitRequest<MyTxn>> requests = TrackedCommitRequest.commit(committer, committables);
 * assertEquals(TrackedCommitRequest.Outcome.COMMITTED, requests.get(0).outcome());
 * }</pre>
 */
public class TrackedCommitRequest<C> implements Committer.CommitRequest<C> {

    /** What became of a request; {@code COMMITTED} when the committer left it untouched. */
    public enum Outcome { COMMITTED, ALREADY_COMMITTED, RETRY, FAILED_KNOWN, FAILED_UNKNOWN }

    private C committable;
    private int retries;
    private Outcome outcome = Outcome.COMMITTED;
    private Throwable failure;

    public TrackedCommitRequest(C committable, int retries) {
        this.committable = committable;
        this.retries = retries;
    }

    /** Requests for {@code committables}, none retried yet. */
    public static <C> List<TrackedCommitRequest<C>> of(Collection<C> committables) {
        List<TrackedCommitRequest<C>> list = new ArrayList<>();
        committables.forEach(c -> list.add(new TrackedCommitRequest<>(c, 0)));
        return list;
    }

    /** Commits {@code committables} the way the runtime does for one checkpoint and returns the requests. */
    public static <C> List<TrackedCommitRequest<C>> commit(Committer<C> committer, Collection<C> committables)
            throws Exception {
        List<TrackedCommitRequest<C>> requests = of(committables);
        committer.commit(new ArrayList<>(requests));
        return requests;
    }

    public Outcome outcome() {
        return outcome;
    }

    /** The cause given with a failure, or null. */
    public Throwable failure() {
        return failure;
    }

    /** Before the request is handed to a committer (again): counts a retry after the first attempt. */
    public void beginAttempt(boolean retry) {
        if (retry) {
            retries++;
        }
        outcome = Outcome.COMMITTED;
        failure = null;
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
    public void updateAndRetryLater(C updated) {
        committable = updated;
        outcome = Outcome.RETRY;
    }

    @Override
    public void signalAlreadyCommitted() {
        outcome = Outcome.ALREADY_COMMITTED;
    }
}
