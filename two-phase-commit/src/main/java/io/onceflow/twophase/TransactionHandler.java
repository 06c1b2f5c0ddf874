package io.onceflow.twophase;

import io.onceflow.api.serialization.VersionedSerializer;
import io.onceflow.api.sink.SinkInitContext;

/**
 * The external system's side of a {@link TwoPhaseCommitSink}: how to begin, fill, pre-commit, commit
 * and abort one transaction. The sink decides when; the handler only does.
 *
 * <h2>Call order, per sink subtask</h2>
 * <pre>
 * start:      [recoverAndCommit(t) for each restored pre-committed t]     (the committer, on a thread of its own)
 *             [recoverAndAbort(t) for each restored open t]                (the writer, at the same time: never the same t)
 *             [abortLingeringTransactions(ctx)]                            (after the commits; fresh start or same
 *                                                                          parallelism only)
 *             t1 = beginTransaction(ctx)
 * records:    write(t1, v) …
 * barrier n:  p = preCommit(t1, n); t2 = beginTransaction(ctx)             (skipped while t1 is empty)
 * complete n: commit(p) for every pre-committed transaction of checkpoints ≤ n, in checkpoint order
 * end:        after the end of a bounded input the last transaction is pre-committed and none is begun
 * close:      abort(open transaction)                                      (never a pre-committed one)
 * </pre>
 *
 * <h2>Threads</h2>
 * One handler instance serves every subtask of the sink, from each subtask's own thread, so it must
 * be thread-safe; keep per-transaction state (buffers, connections) in the {@code TXN} handle, which
 * only one thread touches at a time. As a subtask starts from a checkpoint its restored pre-committed
 * transactions are committed on a thread of their own while its thread aborts the restored open ones.
 *
 * <h2>What must be durable when</h2>
 * When {@link #preCommit} returns, everything written into the transaction must survive a crash of
 * this process, and {@link #commit} of the returned handle must be able to succeed later, possibly in
 * another process and on another subtask (after a change of parallelism). The returned handle is
 * stored in the checkpoint; the checkpoint completing is the decision to commit.
 *
 * @param <IN>  the records written
 * @param <TXN> the transaction handle: everything needed to find the transaction again after a crash
 */
public interface TransactionHandler<IN, TXN> {

    /**
     * Begins a transaction. Nothing needs to exist externally yet: a handler may create the external
     * transaction lazily on the first {@link #write}, so an empty transaction costs nothing.
     */
    TXN beginTransaction(TransactionContext context) throws Exception;

    /** Writes one record into an open transaction. Not visible to readers until committed. */
    void write(TXN transaction, IN value) throws Exception;

    /**
     * Makes everything written durable (flush, fsync, prepare) so that a later commit cannot fail for
     * lack of data. Only called for transactions with at least one record.
     *
     * @param checkpointId the checkpoint the transaction now belongs to
     * @return the handle to store in the checkpoint and to commit later: {@code transaction} itself or
     *         a copy that also holds what commit needs (for example the checkpoint id)
     */
    TXN preCommit(TXN transaction, long checkpointId) throws Exception;

    /**
     * Makes a pre-committed transaction visible. Must be idempotent: a transaction that was already
     * committed (before a crash) must count as success, because "checkpoint complete" can be delivered
     * again after a restore. Throwing fails the job (and its restart strategy tries again), unless the
     * sink was told to ignore failures of transactions older than their timeout. Throw a
     * {@link TransactionLostException} when the external system says the transaction no longer exists
     * (aborted by a timeout, fenced): no restart can commit it, so the job stops and says what was lost.
     */
    void commit(TXN transaction) throws Exception;

    /** Discards an open or pre-committed transaction and releases its resources. Must tolerate a transaction that never wrote anything. */
    void abort(TXN transaction) throws Exception;

    /**
     * Commits a pre-committed transaction read back from a checkpoint, possibly begun by another
     * process or subtask and possibly already committed. Defaults to {@link #commit}.
     */
    default void recoverAndCommit(TXN transaction) throws Exception {
        commit(transaction);
    }

    /**
     * Aborts a transaction that was open when the restored checkpoint was taken; it may hold records
     * written after that checkpoint, which will be written again. Defaults to {@link #abort}.
     */
    default void recoverAndAbort(TXN transaction) throws Exception {
        abort(transaction);
    }

    /**
     * Aborts whatever this subtask index may have left open that no checkpoint refers to: transactions
     * begun after the restored checkpoint by an attempt that then failed. Called once per writer,
     * before its first transaction begins, and only when that is safe:
     * <ul>
     * <li>on a fresh start (no checkpoint restored, so no pre-committed transaction is pending), or</li>
     * <li>on a restore at the parallelism the checkpoint was taken with. Each subtask then received
     *     exactly its own pending transactions, and they were committed before this call.</li>
     * </ul>
     * Not called after a change of parallelism, when another subtask may still be committing a
     * pre-committed transaction that this subtask index began: there, only the restored open
     * transactions are aborted (by {@link #recoverAndAbort}). Defaults to doing nothing.
     */
    default void abortLingeringTransactions(SinkInitContext context) throws Exception {
    }

    /**
     * Called on the subtask's thread after the writer of subtask {@code subtaskIndex} took its part of
     * checkpoint {@code checkpointId} (after {@link #preCommit}, if there was anything to pre-commit).
     * With {@link #checkpointCompleted} it tells a handler when an external name used by a committed
     * transaction can no longer be referenced by any restorable checkpoint, so it can be reused.
     */
    default void checkpointTaken(int subtaskIndex, long checkpointId) throws Exception {
    }

    /**
     * Called on the subtask's thread after checkpoint {@code checkpointId} completed and the pending
     * transactions it covers were committed (best effort, like every completion notification).
     */
    default void checkpointCompleted(int subtaskIndex, long checkpointId) throws Exception {
    }

    /**
     * Called on the subtask's thread when checkpoint {@code checkpointId}, for which this subtask pre-committed
     * {@code transaction}, was aborted. By default the transaction stays pending and the next completed
     * checkpoint commits it. A handler whose pre-committed transactions keep the next ones from writing (a
     * prepared XA transaction holds its row locks until committed) throws instead: the subtask fails, and the
     * job restarts from its last completed checkpoint, which rolls the transaction back and writes its records
     * again.
     */
    default void preCommittedCheckpointAborted(TXN transaction, long checkpointId) throws Exception {
    }

    /**
     * Called on the subtask's thread when its writer closes, after the open transaction was aborted:
     * release what the handler keeps for that subtask (connections, pooled producers). Pre-committed
     * transactions must stay committable by whoever restores them.
     */
    default void close(int subtaskIndex) throws Exception {
    }

    /** Writes transaction handles into checkpoints; every stored form carries its version. */
    VersionedSerializer<TXN> getTransactionSerializer();
}
