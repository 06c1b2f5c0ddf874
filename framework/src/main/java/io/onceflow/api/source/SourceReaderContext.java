package io.onceflow.api.source;

/** The reader's view of its subtask. */
public interface SourceReaderContext {

    int getIndexOfSubtask();

    int getParallelism();

    String getOperatorUid();

    String getJobName();

    /** The checkpoint this subtask was restored from, empty on a fresh start. */
    default java.util.OptionalLong getRestoredCheckpointId() {
        return java.util.OptionalLong.empty();
    }

    /**
     * The timestamp (epoch milliseconds) of a record this reader just emitted, such as a Kafka record's: it
     * feeds the job's end-to-end latency (input timestamp to visible output at each committing sink). Call it
     * from the reader's thread; negative means unknown.
     */
    default void recordInputTimestamp(long epochMillis) {
    }

    /** Counters of this subtask, reported by {@code JobClient.getCounters()}. */
    default io.onceflow.api.metrics.MetricGroup getMetricGroup() {
        return io.onceflow.api.metrics.MetricGroup.unregistered();
    }
}
