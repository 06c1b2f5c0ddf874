package io.onceflow.api;

/**
 * A snapshot of a running job's counters, named after Flink's metrics where one exists.
 *
 * @param lastRestoreDurationMillis how long the last run of the job (in this process) that restored a checkpoint
 *                                  took to read the checkpoint's state into its operators, before its tasks
 *                                  started; -1 if no run has restored one
 */
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
        long numRecordsOut,
        long lastRestoreDurationMillis) {
}
