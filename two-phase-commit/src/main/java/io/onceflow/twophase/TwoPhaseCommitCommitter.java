package io.onceflow.twophase;

import io.onceflow.api.sink.Committer;
import io.onceflow.api.sink.SinkInitContext;
import java.time.Clock;
import java.time.Duration;
import java.util.Collection;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Commits pre-committed transactions when their checkpoint completes; the runtime hands them over in
 * checkpoint order and holds back later checkpoints until earlier ones are through. Restored
 * transactions go to {@link TransactionHandler#recoverAndCommit}, the others to
 * {@link TransactionHandler#commit}. Called on the subtask's thread only.
 *
 * <p>A failed commit fails the job ({@code signalFailedWithUnknownReason}); the restart then commits
 * the transaction again from the checkpoint. Only when the sink opted in with
 * {@code ignoreFailuresAfterTransactionTimeout} and the transaction is older than that timeout is the
 * failure logged at ERROR as possible data loss, counted, and the transaction given up.
 */
final class TwoPhaseCommitCommitter<TXN> implements Committer<TransactionHolder<TXN>> {

    private static final Logger LOG = LoggerFactory.getLogger(TwoPhaseCommitCommitter.class);

    private final io.onceflow.api.metrics.Counter committedCounter;
    private final TransactionHandler<?, TXN> handler;
    private final SinkInitContext context;
    private final Clock clock;
    private final Duration ignoreFailuresAfter;
    private final io.onceflow.api.metrics.Counter ignoredCounter;
    private final io.onceflow.api.metrics.Counter lostRecordsCounter;
    // shared by the committers of all subtasks of one sink
    private final AtomicLong ignoredFailures;

    TwoPhaseCommitCommitter(TransactionHandler<?, TXN> handler, SinkInitContext context, Clock clock,
                            Duration ignoreFailuresAfter, AtomicLong ignoredFailures) {
        this.handler = handler;
        this.context = context;
        this.clock = clock;
        this.ignoreFailuresAfter = ignoreFailuresAfter;
        this.ignoredFailures = ignoredFailures;
        this.ignoredCounter = context.getMetricGroup().counter("commitsIgnoredAfterTransactionTimeout");
        this.lostRecordsCounter = context.getMetricGroup().counter("recordsLostAfterTransactionTimeout");
        this.committedCounter = context.getMetricGroup().counter("transactionsCommitted");
    }

    @Override
    public void commit(Collection<CommitRequest<TransactionHolder<TXN>>> requests) {
        // every request gets its own outcome: one left untouched counts as committed
        for (CommitRequest<TransactionHolder<TXN>> request : requests) {
            commit(request);
        }
    }

    private void commit(CommitRequest<TransactionHolder<TXN>> request) {
        TransactionHolder<TXN> txn = request.getCommittable();
        if (txn.state() == TransactionState.COMMITTED) {
            request.signalAlreadyCommitted();
            return;
        }
        if (txn.state() != TransactionState.PRE_COMMITTED) {
            request.signalFailedWithUnknownReason(new IllegalStateException("Sink '" + context.getOperatorUid()
                    + "' was asked to commit transaction " + txn + ", which was never pre-committed"));
            return;
        }
        try {
            if (txn.isRecovered()) {
                handler.recoverAndCommit(txn.handle());
            } else {
                handler.commit(txn.handle());
            }
        } catch (Exception e) {
            onFailure(request, txn, e);
            return;
        }
        txn.committed();
        committedCounter.inc();
    }

    private void onFailure(CommitRequest<TransactionHolder<TXN>> request, TransactionHolder<TXN> txn, Exception e) {
        long ageMillis = txn.startedAtMillis() == TransactionHolder.NOT_STARTED ? 0
                : clock.millis() - txn.startedAtMillis();
        if (ignoreFailuresAfter != null && ageMillis > ignoreFailuresAfter.toMillis()) {
            ignoredFailures.incrementAndGet();
            ignoredCounter.inc();
            lostRecordsCounter.inc(txn.records());
            LOG.error("Sink '{}' subtask {}: POSSIBLE DATA LOSS: committing transaction {} of checkpoint {} failed {} ms "
                            + "after its first record, beyond the transaction timeout of {} ms; the external system has "
                            + "most likely aborted it and its {} record(s) are lost. Continuing, as configured by "
                            + "ignoreFailuresAfterTransactionTimeout. Raise the transaction timeout above checkpoint "
                            + "interval plus recovery time to avoid this.",
                    context.getOperatorUid(), context.getIndexOfSubtask(), txn.handle(), txn.checkpointId(), ageMillis,
                    ignoreFailuresAfter.toMillis(), txn.records(), e);
            txn.aborted();
            request.signalFailedWithKnownReason(e);
        } else if (e instanceof TransactionLostException) {
            // a restart would restore the same checkpoint and fail on the same commit, forever
            request.signalFailedWithUnknownReason(new io.onceflow.api.NonRecoverableException("Sink '"
                    + context.getOperatorUid() + "' subtask " + context.getIndexOfSubtask() + " cannot commit the "
                    + "transaction of checkpoint " + txn.checkpointId() + " (" + txn.handle() + ", " + txn.records()
                    + " record(s), first written " + ageMillis + " ms ago): " + e.getMessage() + ". Those records are "
                    + "LOST from the output, and their input lies before checkpoint " + txn.checkpointId() + ", so it "
                    + "will not be read again. The job stops instead of restarting into the same failure. What to do: "
                    + "(1) to accept the loss and go on, set ignoreFailuresAfterTransactionTimeout on the sink's "
                    + "builder (command line: --ignore-failures-after-transaction-timeout): each such loss is then "
                    + "logged at ERROR and counted; (2) to recover the records, re-read their input: start the job "
                    + "without its checkpoints and with starting offsets from before checkpoint " + txn.checkpointId()
                    + "; (3) to prevent it, make the transaction timeout longer than the longest time the job may be "
                    + "down", e));
        } else {
            request.signalFailedWithUnknownReason(e);
        }
    }
}
