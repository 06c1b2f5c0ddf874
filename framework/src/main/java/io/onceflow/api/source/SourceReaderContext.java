package io.onceflow.api.source;

/** The reader's view of its subtask. */
public interface SourceReaderContext {

    int getIndexOfSubtask();

    int getParallelism();

    String getOperatorUid();

    String getJobName();

    /**
     * The ids of every split of this source that the job's subtasks held as this attempt started: the initial splits
     * on a fresh start, the splits in the checkpoint it was restored from otherwise; empty when the runtime does not
     * know them. A split that exists now but is not among them appeared since (a partition added to a Kafka topic):
     * a reader that discovers splits as it runs takes such a split only where it is the split's owner by a rule
     * that every subtask computes alike, so a new split is read by exactly one subtask.
     */
    default java.util.Optional<java.util.Set<String>> getSplitIdsAtStart() {
        return java.util.Optional.empty();
    }

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
