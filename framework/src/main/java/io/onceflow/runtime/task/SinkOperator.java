package io.onceflow.runtime.task;

import io.onceflow.api.serialization.TypeSerializer;
import io.onceflow.api.serialization.VersionedSerializer;
import io.onceflow.api.sink.Committer;
import io.onceflow.api.sink.CommittingSinkWriter;
import io.onceflow.api.sink.Sink;
import io.onceflow.api.sink.SinkWriter;
import io.onceflow.api.sink.StatefulSinkWriter;
import io.onceflow.api.sink.SupportsCommitter;
import io.onceflow.api.sink.SupportsWriterState;
import io.onceflow.api.sink.TrackedCommitRequest;
import io.onceflow.api.state.ListState;
import io.onceflow.api.functions.CheckpointListener;
import io.onceflow.runtime.state.Bytes;
import io.onceflow.runtime.state.VersionedTypeSerializer;
import io.onceflow.runtime.fault.FaultPoint;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a {@link Sink}: writes records with its writer; at each barrier flushes, takes the writer's
 * committables and files them under the checkpoint id (in operator state {@code __sink_committables});
 * when checkpoint {@code n} completes commits every pending checkpoint {@code <= n}, in order. On
 * restore it first commits what the restored checkpoint holds, then creates or restores the writer; a sink whose
 * writer can be restored meanwhile ({@link SupportsWriterState#restoresWhileCommitting()}) has it restored while the
 * commits run on a thread of their own, and this returns once both are done.
 */
public final class SinkOperator<T, C, S> extends AbstractStreamOperator<T, Void> {

    private static final Logger LOG = LoggerFactory.getLogger(SinkOperator.class);
    static final String COMMITTABLES_STATE = "__sink_committables";
    static final String WRITER_STATE = "__sink_writer_state";

    private final Sink<T> sink;
    private SinkWriter<T> writer;
    private Committer<C> committer;
    private ListState<PendingCommittable<C>> committablesState;
    private ListState<S> writerState;
    private final TreeMap<Long, List<TrackedCommitRequest<C>>> pending = new TreeMap<>();
    private boolean endOfInput;
    // written by the task thread only; metrics read it racily, a slightly stale count is fine
    private long written;

    public SinkOperator(Sink<T> sink) {
        this.sink = sink;
    }

    @Override
    @SuppressWarnings("unchecked")
    public void initializeState() throws Exception {
        if (sink instanceof SupportsCommitter<?> sc) {
            SupportsCommitter<C> supports = (SupportsCommitter<C>) sc;
            committablesState = context.operatorState().getInternalListState(COMMITTABLES_STATE,
                    new PendingSerializer<>(supports.getCommittableSerializer()));
            for (PendingCommittable<C> p : committablesState.get()) {
                pending.computeIfAbsent(p.checkpointId(), id -> new ArrayList<>()).add(new TrackedCommitRequest<>(p.committable(), 0));
            }
            committer = supports.createCommitter(context);
            if (!pending.isEmpty()) {
                LOG.info("Sink '{}' subtask {}: committing {} checkpoint(s) of committables restored from checkpoint {}",
                        context.getOperatorUid(), context.getIndexOfThisSubtask(), pending.size(),
                        context.restoredCheckpointId().orElse(-1));
                long last = pending.lastKey();
                if (sink instanceof SupportsWriterState<?, ?> sws && sws.restoresWhileCommitting()
                        && context.restoredCheckpointId().isPresent()) {
                    java.util.concurrent.FutureTask<Void> restoredCommits = new java.util.concurrent.FutureTask<>(() -> {
                        commitUpTo(last);
                        return null;
                    });
                    Thread committing = new Thread(restoredCommits, Thread.currentThread().getName() + " restored commits");
                    committing.setDaemon(true);
                    committing.setContextClassLoader(Thread.currentThread().getContextClassLoader());
                    committing.start();
                    context.restoredCommitsRunning(restoredCommits);
                } else {
                    commitUpTo(last);
                }
            }
        }
        try {
            if (sink instanceof SupportsWriterState<?, ?> sws) {
                SupportsWriterState<T, S> supports = (SupportsWriterState<T, S>) sws;
                writerState = context.operatorState().getInternalListState(WRITER_STATE,
                        new VersionedTypeSerializer<>(supports.getWriterStateSerializer()));
                if (context.restoredCheckpointId().isPresent()) {
                    List<S> restored = new ArrayList<>();
                    writerState.get().forEach(restored::add);
                    writer = supports.restoreWriter(context, restored);
                }
            }
            if (writer == null) {
                context.awaitRestoredCommits();
                writer = sink.createWriter(context);
            }
        } catch (Exception | Error e) {
            try {
                context.awaitRestoredCommits(); // never leave them running behind a failed start
            } catch (Exception | Error commitFailure) {
                if (commitFailure != e) {
                    e.addSuppressed(commitFailure);
                }
            }
            throw e;
        }
        context.awaitRestoredCommits(); // also where the writer's restore did not wait for them
        if (committer != null && !(writer instanceof CommittingSinkWriter)) {
            throw new IllegalStateException("Sink of operator '" + context.getOperatorUid() + "' supports a committer, "
                    + "but its writer " + writer.getClass().getName() + " is not a CommittingSinkWriter");
        }
    }

    @Override
    public void processElement(T element) throws Exception {
        writer.write(element);
        written++;
    }

    /** Records handed to the writer so far (read by metrics from other threads). */
    public long getNumRecordsWritten() {
        return written;
    }

    @Override
    public void endInput() throws Exception {
        endOfInput = true;
        writer.flush(true);
    }

    @Override
    @SuppressWarnings("unchecked")
    public void snapshotState(long checkpointId) throws Exception {
        if (!endOfInput) {
            writer.flush(false);
        }
        if (committer == null) {
            // a sink without a committer (idempotent writes) makes its output visible here, at the barrier
            recordVisible(checkpointId);
        }
        if (committer != null) {
            Collection<C> committables = ((CommittingSinkWriter<T, C>) writer).prepareCommit(checkpointId);
            if (committables != null && !committables.isEmpty()) {
                List<TrackedCommitRequest<C>> requests = pending.computeIfAbsent(checkpointId, id -> new ArrayList<>());
                for (C c : committables) {
                    requests.add(new TrackedCommitRequest<>(c, 0));
                }
            }
            List<PendingCommittable<C>> all = new ArrayList<>();
            for (Map.Entry<Long, List<TrackedCommitRequest<C>>> e : pending.entrySet()) {
                for (TrackedCommitRequest<C> r : e.getValue()) {
                    all.add(new PendingCommittable<>(e.getKey(), r.getCommittable()));
                }
            }
            committablesState.update(all);
        }
        if (writerState != null) {
            writerState.update(((StatefulSinkWriter<T, S>) writer).snapshotState(checkpointId));
        }
    }

    /** The checkpoint files of every pending committable that refers to some. */
    @Override
    public ReferencedFiles referencedFiles(long checkpointId) {
        List<io.onceflow.runtime.storage.StateHandle.InFile> files = new ArrayList<>();
        long uploaded = 0;
        for (Map.Entry<Long, List<TrackedCommitRequest<C>>> e : pending.entrySet()) {
            for (TrackedCommitRequest<C> r : e.getValue()) {
                if (r.getCommittable() instanceof io.onceflow.api.sink.ReferencesCheckpointFiles refs) {
                    for (io.onceflow.api.sink.CheckpointFiles.CheckpointFile f : refs.checkpointFiles()) {
                        files.add(new io.onceflow.runtime.storage.StateHandle.InFile(f.path(), f.size()));
                        if (e.getKey() == checkpointId) {
                            uploaded += f.size();
                        }
                    }
                }
            }
        }
        return files.isEmpty() ? ReferencedFiles.NONE : new ReferencedFiles(files, uploaded);
    }

    @Override
    public void notifyCheckpointComplete(long checkpointId) throws Exception {
        if (committer != null) {
            commitUpTo(checkpointId);
            int attempts = 0;
            // at the end of a bounded input there is no later checkpoint to retry with: retry here
            while (endOfInput && !pending.headMap(checkpointId, true).isEmpty() && attempts++ < 50) {
                Thread.sleep(100);
                commitUpTo(checkpointId);
            }
            if (endOfInput && !pending.headMap(checkpointId, true).isEmpty()) {
                throw new IllegalStateException("Sink '" + context.getOperatorUid() + "' could not commit the final "
                        + "checkpoint " + checkpointId + ": its committer kept asking to retry later");
            }
        }
        if (writer instanceof CheckpointListener listener) {
            listener.notifyCheckpointComplete(checkpointId);
        }
    }

    @Override
    public void notifyCheckpointAborted(long checkpointId) throws Exception {
        // Committables of an aborted checkpoint stay pending: the next completed checkpoint covers them.
        if (writer instanceof CheckpointListener listener) {
            listener.notifyCheckpointAborted(checkpointId);
        }
    }

    private io.onceflow.api.metrics.Histogram commitLatency;

    /**
     * How long the committer took for one checkpoint's committables: the time from the completion notice to
     * the output being visible (a transaction's commit, a write-ahead batch written).
     */
    private io.onceflow.api.metrics.Histogram commitLatency() {
        if (commitLatency == null) {
            commitLatency = context.getMetricGroup().histogram("commitLatency");
        }
        return commitLatency;
    }

    private io.onceflow.api.metrics.Histogram endToEndLatency;

    /** From an input record's timestamp to the commit that made its output visible (see EndToEndLatency). */
    private io.onceflow.api.metrics.Histogram endToEndLatency() {
        if (endToEndLatency == null) {
            endToEndLatency = context.getMetricGroup().histogram("endToEndLatency");
        }
        return endToEndLatency;
    }

    private boolean latencyBroken;

    /**
     * The output of {@code checkpointId} became visible now: the end-to-end latency histogram learns of it. A
     * metric never fails the job: should the bookkeeping throw, it is logged once and switched off.
     */
    private void recordVisible(long checkpointId) {
        if (context.endToEndLatency() == null || latencyBroken) {
            return;
        }
        try {
            context.endToEndLatency().committed(context.getOperatorUid(), context.getParallelism(), checkpointId,
                    System.currentTimeMillis(), endToEndLatency());
        } catch (RuntimeException e) {
            latencyBroken = true;
            LOG.warn("Sink '{}' subtask {}: end-to-end latency is no longer recorded after an error at checkpoint {}",
                    context.getOperatorUid(), context.getIndexOfThisSubtask(), checkpointId, e);
        }
    }

    private void commitUpTo(long checkpointId) throws Exception {
        Iterator<Map.Entry<Long, List<TrackedCommitRequest<C>>>> it = pending.headMap(checkpointId, true).entrySet().iterator();
        while (it.hasNext()) {
            Map.Entry<Long, List<TrackedCommitRequest<C>>> entry = it.next();
            long id = entry.getKey();
            context.faults().at(FaultPoint.BEFORE_COMMIT, context.getOperatorUid(), context.getIndexOfThisSubtask(), id);
            List<TrackedCommitRequest<C>> requests = entry.getValue();
            for (TrackedCommitRequest<C> r : requests) {
                r.beginAttempt(false);
            }
            long commitStart = System.nanoTime();
            committer.commit(new ArrayList<>(requests));
            commitLatency().record((System.nanoTime() - commitStart) / 1_000_000);
            if (requests.stream().noneMatch(r -> r.outcome() == TrackedCommitRequest.Outcome.RETRY)) {
                recordVisible(id);
            }
            context.faults().at(FaultPoint.AFTER_COMMIT, context.getOperatorUid(), context.getIndexOfThisSubtask(), id);
            List<TrackedCommitRequest<C>> retry = new ArrayList<>();
            for (TrackedCommitRequest<C> r : requests) {
                switch (r.outcome()) {
                    case COMMITTED, ALREADY_COMMITTED -> {
                    }
                    case RETRY -> {
                        r.beginAttempt(true);
                        retry.add(r);
                    }
                    case FAILED_KNOWN -> LOG.error("Sink '{}' subtask {}: committable of checkpoint {} failed for a known "
                            + "reason and is discarded: {}", context.getOperatorUid(), context.getIndexOfThisSubtask(),
                            id, r.getCommittable(), r.failure());
                    case FAILED_UNKNOWN -> throw new IllegalStateException("Sink '" + context.getOperatorUid()
                            + "' failed to commit checkpoint " + id + " for an unknown reason", r.failure());
                }
            }
            if (retry.isEmpty()) {
                it.remove();
            } else {
                entry.setValue(retry);
                // later checkpoints must not be committed before this one
                return;
            }
        }
    }

    @Override
    public void close() throws Exception {
        Exception failure = null;
        try {
            if (writer != null) {
                writer.close();
            }
        } catch (Exception e) {
            failure = e;
        }
        if (committer != null) {
            try {
                committer.close();
            } catch (Exception e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    record PendingCommittable<C>(long checkpointId, C committable) {
    }

    private static final class PendingSerializer<C> implements TypeSerializer<PendingCommittable<C>> {
        private final VersionedSerializer<C> serializer;

        PendingSerializer(VersionedSerializer<C> serializer) {
            this.serializer = serializer;
        }

        @Override
        public void serialize(PendingCommittable<C> value, DataOutput out) throws IOException {
            out.writeLong(value.checkpointId());
            out.writeInt(serializer.getVersion());
            Bytes.writeBytes(out, serializer.serialize(value.committable()));
        }

        @Override
        public PendingCommittable<C> deserialize(DataInput in) throws IOException {
            long id = in.readLong();
            int version = in.readInt();
            return new PendingCommittable<>(id, serializer.deserialize(version, Bytes.readBytes(in)));
        }
    }
}
