package io.onceflow.api;

/**
 * One completed checkpoint, as a job's monitoring sees it. {@code stateSizeBytes} is its full size,
 * {@code incrementalSizeBytes} what it wrote itself (less than the full size when RocksDB shares SST
 * files with earlier checkpoints). {@code maxSyncPauseMicros} is the longest a subtask's thread stopped
 * for its synchronous part (freezing its state), over all subtasks. {@code phases} says where its time
 * went.
 */
public record CheckpointStats(long checkpointId, long triggerTimestamp, long durationMillis, long stateSizeBytes,
                              long incrementalSizeBytes, long maxAlignmentMillis, long maxSyncPauseMicros,
                              Phases phases) {

    public CheckpointStats(long checkpointId, long triggerTimestamp, long durationMillis, long stateSizeBytes,
                           long incrementalSizeBytes, long maxAlignmentMillis, long maxSyncPauseMicros) {
        this(checkpointId, triggerTimestamp, durationMillis, stateSizeBytes, incrementalSizeBytes, maxAlignmentMillis,
                maxSyncPauseMicros, Phases.UNKNOWN);
    }

    /**
     * When each phase of one checkpoint ended, in microseconds after its trigger, for the last subtask to get
     * there: every barrier arrived (at a source: the trigger reached its thread), every synchronous part done,
     * every subtask's state written and acknowledged, the metadata durable (the checkpoint is complete), the
     * completion handed to the subtasks, and every subtask done with it (the sinks committed: output
     * visible). {@code -1} where not known (yet).
     */
    public record Phases(long alignedMicros, long syncDoneMicros, long acknowledgedMicros, long durableMicros,
                         long notifiedMicros, long committedMicros) {
        public static final Phases UNKNOWN = new Phases(-1, -1, -1, -1, -1, -1);
    }
}
