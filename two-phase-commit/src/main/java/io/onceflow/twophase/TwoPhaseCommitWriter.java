package io.onceflow.twophase;

import io.onceflow.api.functions.CheckpointListener;
import io.onceflow.api.sink.CommittingSinkWriter;
import io.onceflow.api.sink.SinkInitContext;
import io.onceflow.api.sink.StatefulSinkWriter;
import java.time.Clock;
import java.util.Collection;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The writer of one sink subtask: keeps one open transaction, pre-commits it at each barrier and
 * begins the next. Called on the subtask's thread only.
 *
 * <p>An empty transaction is neither pre-committed nor committed (FLINK-31363): it stays open into the
 * next checkpoint, and is aborted at the end of the input. After the end of the input no transaction
 * is begun.
 */
final class TwoPhaseCommitWriter<IN, TXN>
        implements CommittingSinkWriter<IN, TransactionHolder<TXN>>, StatefulSinkWriter<IN, TransactionHolder<TXN>>,
        CheckpointListener {

    private static final Logger LOG = LoggerFactory.getLogger(TwoPhaseCommitWriter.class);

    private final TransactionHandler<IN, TXN> handler;
    private final SinkInitContext context;
    private final Clock clock;
    private final long restoredCheckpointId;
    private long nextSequence;
    private TransactionHolder<TXN> current;
    private boolean endOfInput;
    private Exception beginFailure;
    private long beginFailureCheckpoint;
    /** Pre-committed by this writer, checkpoint id → transaction, until a completion notice covers it. */
    private final java.util.TreeMap<Long, TXN> preCommittedByCheckpoint = new java.util.TreeMap<>();

    private TwoPhaseCommitWriter(TransactionHandler<IN, TXN> handler, SinkInitContext context, Clock clock) {
        this.handler = handler;
        this.context = context;
        this.clock = clock;
        this.restoredCheckpointId = context.getRestoredCheckpointId().orElse(0);
        this.begun = context.getMetricGroup().counter("transactionsBegun");
        this.preCommitted = context.getMetricGroup().counter("transactionsPreCommitted");
        this.aborted = context.getMetricGroup().counter("transactionsAborted");
    }

    private final io.onceflow.api.metrics.Counter begun;
    private final io.onceflow.api.metrics.Counter preCommitted;
    private final io.onceflow.api.metrics.Counter aborted;

    /** A writer of a subtask that starts without a checkpoint. */
    static <IN, TXN> TwoPhaseCommitWriter<IN, TXN> fresh(TransactionHandler<IN, TXN> handler, SinkInitContext context,
                                                         Clock clock) throws Exception {
        TwoPhaseCommitWriter<IN, TXN> writer = new TwoPhaseCommitWriter<>(handler, context, clock);
        if (context.getRestoredCheckpointId().isEmpty()) {
            // nothing can be pending anywhere, so whatever this subtask index left behind is garbage
            handler.abortLingeringTransactions(context);
        }
        writer.current = writer.begin();
        return writer;
    }

    /**
     * A writer restored from a checkpoint: aborts the restored open transactions while the runtime commits the
     * restored pre-committed ones (different transactions), waits for those commits, then sweeps and begins afresh.
     */
    static <IN, TXN> TwoPhaseCommitWriter<IN, TXN> restored(TransactionHandler<IN, TXN> handler,
                                                            SinkInitContext context, Clock clock,
                                                            Collection<TransactionHolder<TXN>> openTransactions)
            throws Exception {
        TwoPhaseCommitWriter<IN, TXN> writer = new TwoPhaseCommitWriter<>(handler, context, clock);
        for (TransactionHolder<TXN> open : openTransactions) {
            open.requireState(TransactionState.OPEN, "recover and abort");
            handler.recoverAndAbort(open.handle());
            open.aborted();
            LOG.info("Sink '{}' subtask {}: aborted transaction {} that was open at checkpoint {}",
                    context.getOperatorUid(), context.getIndexOfSubtask(), open.handle(), writer.restoredCheckpointId);
        }
        // the restored pre-committed transactions may still be committing (see restoresWhileCommitting): what follows
        // (the sweep of transactions no checkpoint refers to, the next transaction's name) must come after them
        context.awaitRestoredCommits();
        if (restoredAtSameParallelism(context, openTransactions)) {
            handler.abortLingeringTransactions(context);
        } else if (openTransactions.isEmpty()) {
            // the input had ended at the checkpoint (or this subtask is new): no transaction was begun after it
            LOG.debug("Sink '{}' subtask {}: no open transaction in checkpoint {}; lingering ones are not swept",
                    context.getOperatorUid(), context.getIndexOfSubtask(), writer.restoredCheckpointId);
        } else {
            LOG.info("Sink '{}' subtask {}: restored at another parallelism, so transactions that earlier attempts "
                    + "began after checkpoint {} and never checkpointed are not swept (another subtask may still be "
                    + "committing one of this index); only the {} restored open one(s) were aborted",
                    context.getOperatorUid(), context.getIndexOfSubtask(), writer.restoredCheckpointId,
                    openTransactions.size());
        }
        writer.current = writer.begin();
        return writer;
    }

    /**
     * At unchanged parallelism subtask {@code i} gets back exactly the one open transaction subtask
     * {@code i} checkpointed; anything else (several, another index, none at all) may be a rescale.
     */
    private static boolean restoredAtSameParallelism(SinkInitContext context, Collection<? extends TransactionHolder<?>> open) {
        return open.size() == 1 && open.stream().allMatch(t -> t.subtaskIndex() == context.getIndexOfSubtask()
                && t.parallelism() == context.getParallelism());
    }

    private TransactionHolder<TXN> begin() throws Exception {
        TransactionContext txnContext = new TransactionContext(context.getJobName(), context.getOperatorUid(),
                context.getIndexOfSubtask(), context.getParallelism(), restoredCheckpointId, nextSequence++);
        TXN handle = handler.beginTransaction(txnContext);
        begun.inc();
        return TransactionHolder.open(handle, context.getIndexOfSubtask(), context.getParallelism());
    }

    @Override
    public void write(IN element) throws Exception {
        if (current == null) {
            if (beginFailure != null) {
                // the records from here on would belong to no transaction: fail, and restart from a checkpoint
                throw new IllegalStateException("Sink '" + context.getOperatorUid() + "' subtask "
                        + context.getIndexOfSubtask() + " could not begin a transaction after checkpoint "
                        + beginFailureCheckpoint + ": " + beginFailure, beginFailure);
            }
            throw new IllegalStateException("Sink '" + context.getOperatorUid() + "' subtask "
                    + context.getIndexOfSubtask() + " received a record after the end of its input");
        }
        handler.write(current.handle(), element);
        current.recordWritten(clock); // reads the clock at the first record only
    }

    @Override
    public void flush(boolean endOfInput) {
        if (endOfInput) {
            this.endOfInput = true;
        }
    }

    @Override
    public Collection<TransactionHolder<TXN>> prepareCommit(long checkpointId) throws Exception {
        if (current == null) {
            return List.of();
        }
        if (current.isEmpty()) {
            if (endOfInput) {
                abortCurrent();
            }
            return List.of();
        }
        TransactionHolder<TXN> prepared = current;
        prepared.preCommitted(handler.preCommit(prepared.handle(), checkpointId), checkpointId);
        preCommittedByCheckpoint.put(checkpointId, prepared.handle());
        preCommitted.inc();
        // from here on it belongs to checkpoint n: close() must not abort it even if begin() fails, and it
        // goes into the checkpoint whatever happens next
        current = null;
        if (!endOfInput) {
            try {
                current = begin();
            } catch (Exception e) {
                // the next record fails the task with this cause (the external system is unreachable, say)
                LOG.warn("Sink '{}' subtask {}: could not begin a transaction after checkpoint {}: {}",
                        context.getOperatorUid(), context.getIndexOfSubtask(), checkpointId, e.toString());
                beginFailure = e;
                beginFailureCheckpoint = checkpointId;
            }
        }
        return List.of(prepared);
    }

    /**
     * The open transaction, so that a restore can abort it. Called right after {@link #prepareCommit}.
     * A frozen copy, so the checkpoint keeps the transaction as it was at the barrier however late it
     * is serialized: the live one goes on taking records and is later pre-committed.
     */
    @Override
    public List<TransactionHolder<TXN>> snapshotState(long checkpointId) throws Exception {
        handler.checkpointTaken(context.getIndexOfSubtask(), checkpointId);
        return current == null ? List.of() : List.of(current.snapshot());
    }

    /** Called by the runtime after the committer committed what checkpoint {@code checkpointId} covers. */
    @Override
    public void notifyCheckpointComplete(long checkpointId) throws Exception {
        preCommittedByCheckpoint.headMap(checkpointId, true).clear();
        handler.checkpointCompleted(context.getIndexOfSubtask(), checkpointId);
    }

    /** The transaction pre-committed for an aborted checkpoint stays pending, unless its handler says it cannot. */
    @Override
    public void notifyCheckpointAborted(long checkpointId) throws Exception {
        TXN stranded = preCommittedByCheckpoint.get(checkpointId);
        if (stranded != null) {
            handler.preCommittedCheckpointAborted(stranded, checkpointId);
        }
    }

    /**
     * Aborts the open transaction (its records are in no checkpoint and will be written again). Never
     * touches pre-committed transactions: they belong to checkpoints and are committed by whoever
     * restores them.
     */
    @Override
    public void close() throws Exception {
        try {
            if (current != null) {
                abortCurrent();
            }
        } finally {
            handler.close(context.getIndexOfSubtask());
        }
    }

    private void abortCurrent() throws Exception {
        TransactionHolder<TXN> open = current;
        current = null;
        handler.abort(open.handle());
        open.aborted();
        aborted.inc();
    }
}
