package io.onceflow.api;

/** One completed checkpoint, as a job's monitoring sees it. */
public record CheckpointStats(long checkpointId, long triggerTimestamp, long durationMillis, long stateSizeBytes,
                              long maxAlignmentMillis) {
}
