package io.onceflow.runtime.checkpoint;

/** A checkpoint failed or was aborted; the message says which and why. */
public class CheckpointException extends Exception {

    private final long checkpointId;

    public CheckpointException(long checkpointId, String reason) {
        super("Checkpoint " + checkpointId + " failed: " + reason);
        this.checkpointId = checkpointId;
    }

    public long getCheckpointId() {
        return checkpointId;
    }
}
