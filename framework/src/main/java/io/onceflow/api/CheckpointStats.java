package io.onceflow.api;

/**
 * One completed checkpoint, as a job's monitoring sees it. {@code stateSizeBytes} is its full size,
 * {@code incrementalSizeBytes} what it wrote itself (less than the full size when RocksDB shares SST
 * files with earlier checkpoints). {@code maxSyncPauseMicros} is the longest a subtask's thread stopped
 * for its synchronous part (freezing its state), over all subtasks.
 */
public record CheckpointStats(long checkpointId, long triggerTimestamp, long durationMillis, long stateSizeBytes,
                              long incrementalSizeBytes, long maxAlignmentMillis, long maxSyncPauseMicros) {
}
