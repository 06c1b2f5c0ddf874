package io.onceflow.runtime.task;

import io.onceflow.runtime.storage.CheckpointMetadata;
import java.util.Map;

/** How a subtask reports to the job: checkpoint acknowledgements, declines, end of input, failure. */
public interface TaskGateway {

    /**
     * Called from a snapshot thread once the subtask's state for {@code checkpointId} is durable.
     * {@code syncNanos} is how long the synchronous part paused the task; {@code alignedAtNanos} and
     * {@code syncDoneAtNanos} ({@link System#nanoTime}) when its last barrier arrived and when that part ended.
     */
    void acknowledgeCheckpoint(int taskIndex, long checkpointId, Map<String, CheckpointMetadata.SubtaskState> states,
                               long alignmentNanos, long syncNanos, long alignedAtNanos, long syncDoneAtNanos);

    /** Called on the subtask's thread once its operators handled the completion of {@code checkpointId}. */
    default void checkpointCompletionHandled(int taskIndex, long checkpointId) {
    }

    void declineCheckpoint(int taskIndex, long checkpointId, Throwable cause);

    void endOfInput(int taskIndex);

    void taskFailed(int taskIndex, Throwable cause);

    void taskFinished(int taskIndex);
}
