package io.onceflow.api;

/** What happens to a job's checkpoints when it is cancelled or stopped. */
public enum CheckpointRetention {
    /**
     * Keep the latest completed checkpoints, so starting the job again resumes from them. The default:
     * a stopped Onceflow job that is started again must continue where it left off.
     */
    RETAIN_ON_CANCELLATION,
    /** Delete the job's checkpoint directory on cancellation; the next start begins fresh. */
    DELETE_ON_CANCELLATION
}
