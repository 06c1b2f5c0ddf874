package io.onceflow.api.sink;

import java.util.OptionalLong;

/** What a sink writer or committer can see of its subtask. */
public interface SinkInitContext {

    int getIndexOfSubtask();

    int getParallelism();

    String getOperatorUid();

    String getJobName();

    /** The restart attempt of this process, 0 on the first run. */
    int getAttemptNumber();

    /** The checkpoint this subtask was restored from, empty on a fresh start. */
    OptionalLong getRestoredCheckpointId();

    /** Counters of this subtask, reported by {@code JobClient.getCounters()}. */
    default io.onceflow.api.metrics.MetricGroup getMetricGroup() {
        return io.onceflow.api.metrics.MetricGroup.unregistered();
    }

    /**
     * Waits until the committables restored from the checkpoint are committed; throws what their commit failed with.
     * Returns at once where they were committed before the writer was restored (the default) or there were none; see
     * {@link SupportsWriterState#restoresWhileCommitting()}.
     */
    default void awaitRestoredCommits() throws Exception {
    }

    /**
     * Files in the job's checkpoint storage this sink may keep (a write-ahead log's records, commit marks).
     *
     * @throws UnsupportedOperationException where there is no checkpoint storage (outside a job)
     */
    default CheckpointFiles getCheckpointFiles() {
        throw new UnsupportedOperationException("no checkpoint storage here: checkpoint files are available to a "
                + "sink running in a job");
    }
}
