package io.onceflow.api;

/** A snapshot of a running job's counters, named after Flink's metrics where one exists. */
public record JobMetrics(
        JobStatus status,
        long numRestarts,
        long numberOfCompletedCheckpoints,
        long numberOfFailedCheckpoints,
        long numberOfInProgressCheckpoints,
        long lastCompletedCheckpointId,
        long lastCheckpointDurationMillis,
        long lastCheckpointSizeBytes,
        long numRecordsIn,
        long numRecordsOut) {
}
