package io.onceflow.twophase;

import java.time.Clock;
import java.util.Objects;

/**
 * One transaction of a {@link TwoPhaseCommitSink}, as the sink tracks it: the handler's handle plus
 * what the sink needs around it (its {@link TransactionState}, the checkpoint it was pre-committed
 * for, when its first record was written, whether it was read back from a checkpoint). This is what
 * goes into checkpoints: open transactions as writer state, pre-committed ones as committables.
 *
 * <p>Not thread-safe: only the thread of the subtask that holds it touches it.
 *
 * @param <TXN> the handler's transaction handle
 */
public final class TransactionHolder<TXN> {

    /** No checkpoint yet: the transaction is open. */
    public static final long NO_CHECKPOINT = -1;
    /** No record written yet. */
    public static final long NOT_STARTED = -1;

    private TXN handle;
    private TransactionState state;
    private final int subtaskIndex;
    private final int parallelism;
    private long checkpointId;
    private long startedAtMillis;
    private long records;
    private final boolean recovered;

    TransactionHolder(TXN handle, TransactionState state, int subtaskIndex, int parallelism, long checkpointId,
                      long startedAtMillis, long records, boolean recovered) {
        this.handle = Objects.requireNonNull(handle, "handle");
        this.state = Objects.requireNonNull(state, "state");
        this.subtaskIndex = subtaskIndex;
        this.parallelism = parallelism;
        this.checkpointId = checkpointId;
        this.startedAtMillis = startedAtMillis;
        this.records = records;
        this.recovered = recovered;
    }

    static <TXN> TransactionHolder<TXN> open(TXN handle, int subtaskIndex, int parallelism) {
        return new TransactionHolder<>(handle, TransactionState.OPEN, subtaskIndex, parallelism, NO_CHECKPOINT,
                NOT_STARTED, 0, false);
    }

    public TXN handle() {
        return handle;
    }

    public TransactionState state() {
        return state;
    }

    /** The subtask that began the transaction. */
    public int subtaskIndex() {
        return subtaskIndex;
    }

    /** The sink's parallelism when the transaction began. */
    public int parallelism() {
        return parallelism;
    }

    /** The checkpoint it was pre-committed for, or {@link #NO_CHECKPOINT} while open. */
    public long checkpointId() {
        return checkpointId;
    }

    /**
     * When its first record was written (wall-clock millis of the sink's clock), or {@link #NOT_STARTED}.
     * The transaction's age, for the transaction timeout, counts from here, as a Kafka transaction's
     * timeout counts from its first send.
     */
    public long startedAtMillis() {
        return startedAtMillis;
    }

    /** Records written into it. */
    public long records() {
        return records;
    }

    public boolean isEmpty() {
        return records == 0;
    }

    /** Whether it was read back from a checkpoint (a restore), rather than created by this process's writer. */
    public boolean isRecovered() {
        return recovered;
    }

    /** A copy frozen as it is now, for a checkpoint of a transaction that stays in use. */
    TransactionHolder<TXN> snapshot() {
        return new TransactionHolder<>(handle, state, subtaskIndex, parallelism, checkpointId, startedAtMillis, records,
                recovered);
    }

    /** Counts a record written; the first one also stamps {@link #startedAtMillis()} from {@code clock}. */
    void recordWritten(Clock clock) {
        requireState(TransactionState.OPEN, "write into");
        if (records++ == 0) {
            startedAtMillis = clock.millis();
        }
    }

    void preCommitted(TXN preparedHandle, long checkpoint) {
        state = state.transitionTo(TransactionState.PRE_COMMITTED);
        handle = Objects.requireNonNull(preparedHandle, "preCommit returned a null handle");
        checkpointId = checkpoint;
    }

    void committed() {
        state = state.transitionTo(TransactionState.COMMITTED);
    }

    void aborted() {
        state = state.transitionTo(TransactionState.ABORTED);
    }

    void requireState(TransactionState expected, String action) {
        if (state != expected) {
            throw new IllegalStateException("Cannot " + action + " transaction " + this + ": it is " + state
                    + ", not " + expected);
        }
    }

    @Override
    public String toString() {
        return handle + " (" + state + (checkpointId == NO_CHECKPOINT ? "" : ", checkpoint " + checkpointId)
                + ", subtask " + subtaskIndex + "/" + parallelism + ", " + records + " records"
                + (recovered ? ", recovered" : "") + ")";
    }
}
