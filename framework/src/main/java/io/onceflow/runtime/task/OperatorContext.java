package io.onceflow.runtime.task;

import io.onceflow.api.functions.RuntimeContext;
import io.onceflow.api.sink.SinkInitContext;
import io.onceflow.api.source.SourceReaderContext;
import io.onceflow.api.state.ListState;
import io.onceflow.api.state.ListStateDescriptor;
import io.onceflow.api.state.MapState;
import io.onceflow.api.state.MapStateDescriptor;
import io.onceflow.api.state.OperatorStateStore;
import io.onceflow.api.state.ReducingState;
import io.onceflow.api.state.ReducingStateDescriptor;
import io.onceflow.api.state.StateDescriptor;
import io.onceflow.api.state.ValueState;
import io.onceflow.api.state.ValueStateDescriptor;
import io.onceflow.runtime.state.KeyedStateBackend;
import io.onceflow.runtime.state.OperatorStateBackend;
import io.onceflow.runtime.fault.FaultInjector;
import java.util.OptionalLong;

/** What the runtime hands an operator of one subtask. */
public final class OperatorContext<OUT> implements RuntimeContext, SourceReaderContext, SinkInitContext {

    private final String jobName;
    private final String uid;
    private final int subtaskIndex;
    private final int parallelism;
    private final int attempt;
    private final Output<OUT> output;
    private final OperatorStateBackend operatorState;
    private final KeyedStateBackend keyedState;
    private final OptionalLong restoredCheckpointId;
    private java.util.Set<String> splitIdsAtStart;
    private final FaultInjector faults;
    private final io.onceflow.api.metrics.MetricGroup metrics;
    private final SideOutputs sideOutputs;
    private final io.onceflow.runtime.storage.JobCheckpointStore store;
    /** A sink's restored committables being committed on a thread of their own while its writer restores, or null. */
    private volatile java.util.concurrent.Future<?> restoredCommits;

    public OperatorContext(String jobName, String uid, int subtaskIndex, int parallelism, int attempt,
                           Output<OUT> output, OperatorStateBackend operatorState, KeyedStateBackend keyedState,
                           OptionalLong restoredCheckpointId, FaultInjector faults,
                           io.onceflow.api.metrics.MetricGroup metrics, SideOutputs sideOutputs,
                           io.onceflow.runtime.storage.JobCheckpointStore store) {
        this.jobName = jobName;
        this.uid = uid;
        this.subtaskIndex = subtaskIndex;
        this.parallelism = parallelism;
        this.attempt = attempt;
        this.output = output;
        this.operatorState = operatorState;
        this.keyedState = keyedState;
        this.restoredCheckpointId = restoredCheckpointId;
        this.faults = faults;
        this.metrics = metrics;
        this.sideOutputs = sideOutputs;
        this.store = store;
    }

    /** The sink's restored committables are being committed by {@code commits}; see {@link #awaitRestoredCommits()}. */
    void restoredCommitsRunning(java.util.concurrent.Future<?> commits) {
        this.restoredCommits = commits;
    }

    /**
     * Waits for the restored committables' commit, uninterruptibly (it changes the sink operator's state), and
     * rethrows its failure; returns at once where none runs.
     */
    @Override
    public void awaitRestoredCommits() throws Exception {
        java.util.concurrent.Future<?> commits = restoredCommits;
        if (commits == null) {
            return;
        }
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    commits.get();
                    return;
                } catch (InterruptedException e) {
                    interrupted = true;
                } catch (java.util.concurrent.ExecutionException e) {
                    throw Sneaky.<Exception>rethrow(e.getCause());
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** The job's checkpoint storage, as files a sink may keep there; names are prefixed by this operator's uid. */
    @Override
    public io.onceflow.api.sink.CheckpointFiles getCheckpointFiles() {
        if (store == null) {
            return io.onceflow.api.sink.SinkInitContext.super.getCheckpointFiles();
        }
        return new io.onceflow.api.sink.CheckpointFiles() {
            @Override
            public String describe() {
                return store.describe();
            }

            @Override
            public CheckpointFile upload(String name, java.nio.file.Path localFile) throws java.io.IOException {
                io.onceflow.runtime.storage.StateHandle.InFile f = store.uploadShared(name, localFile);
                return new CheckpointFile(f.path(), f.size());
            }

            @Override
            public java.io.InputStream open(CheckpointFile file) throws java.io.IOException {
                return store.openState(new io.onceflow.runtime.storage.StateHandle.InFile(file.path(), file.size()));
            }

            @Override
            public OptionalLong readCommitMark(String name) throws java.io.IOException {
                return store.readCommitMark(name);
            }

            @Override
            public void writeCommitMark(String name, long checkpointId) throws java.io.IOException {
                store.writeCommitMark(name, checkpointId);
            }
        };
    }

    private io.onceflow.runtime.metrics.EndToEndLatency latency;
    private io.onceflow.runtime.metrics.EndToEndLatency.Source latencySource;

    /** The job's end-to-end latency bookkeeping (none in a harness). */
    public void setEndToEndLatency(io.onceflow.runtime.metrics.EndToEndLatency latency) {
        this.latency = latency;
    }

    /** The job's end-to-end latency bookkeeping, or null. */
    public io.onceflow.runtime.metrics.EndToEndLatency endToEndLatency() {
        return latency;
    }

    @Override
    public void recordInputTimestamp(long epochMillis) {
        if (latency != null) {
            if (latencySource == null) {
                latencySource = latency.source();
            }
            latencySource.record(epochMillis);
        }
    }

    /** At a source's barrier: the input timestamps seen so far belong to {@code checkpointId}. */
    public void sealInputTimestamps(long checkpointId) {
        if (latencySource != null) {
            latencySource.seal(checkpointId);
        }
    }

    /** Where this operator's side-output records go. */
    public SideOutputs sideOutputs() {
        return sideOutputs;
    }

    @Override
    public io.onceflow.api.metrics.MetricGroup getMetricGroup() {
        return metrics;
    }

    public Output<OUT> output() {
        return output;
    }

    public OperatorStateBackend operatorState() {
        return operatorState;
    }

    /** Null unless the operator reads a keyed stream. */
    public KeyedStateBackend keyedState() {
        return keyedState;
    }

    public OptionalLong restoredCheckpointId() {
        return restoredCheckpointId;
    }

    @Override
    public java.util.Optional<java.util.Set<String>> getSplitIdsAtStart() {
        return java.util.Optional.ofNullable(splitIdsAtStart);
    }

    /** For a source's head: the ids of the source's splits across the job as this attempt started. */
    public void setSplitIdsAtStart(java.util.Set<String> ids) {
        this.splitIdsAtStart = java.util.Set.copyOf(ids);
    }

    @Override
    public OptionalLong getRestoredCheckpointId() {
        return restoredCheckpointId;
    }

    @Override
    public int getIndexOfSubtask() {
        return subtaskIndex;
    }

    @Override
    public int getParallelism() {
        return parallelism;
    }

    public FaultInjector faults() {
        return faults;
    }

    @Override
    public String getJobName() {
        return jobName;
    }

    @Override
    public String getOperatorUid() {
        return uid;
    }

    @Override
    public int getIndexOfThisSubtask() {
        return subtaskIndex;
    }

    @Override
    public int getNumberOfParallelSubtasks() {
        return parallelism;
    }

    @Override
    public int getAttemptNumber() {
        return attempt;
    }

    private KeyedStateBackend keyed(StateDescriptor<?, ?> d) {
        if (keyedState == null) {
            throw new IllegalStateException("Operator '" + uid + "' asked for keyed " + d
                    + ", but keyed state is only available on a keyed stream: call keyBy(...) before this "
                    + "operator, or use getOperatorStateStore() for non-keyed state");
        }
        return keyedState;
    }

    @Override
    public <T> ValueState<T> getState(ValueStateDescriptor<T> descriptor) {
        return keyed(descriptor).getState(descriptor);
    }

    @Override
    public <T> ListState<T> getListState(ListStateDescriptor<T> descriptor) {
        return keyed(descriptor).getListState(descriptor);
    }

    @Override
    public <UK, UV> MapState<UK, UV> getMapState(MapStateDescriptor<UK, UV> descriptor) {
        return keyed(descriptor).getMapState(descriptor);
    }

    @Override
    public <T> ReducingState<T> getReducingState(ReducingStateDescriptor<T> descriptor) {
        return keyed(descriptor).getReducingState(descriptor);
    }

    @Override
    public OperatorStateStore getOperatorStateStore() {
        return operatorState;
    }
}
