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

    /** Called on the subtask's thread once its operators restored their state and opened. */
    default void taskStarted(int taskIndex) {
    }

    /**
     * Whether every subtask of the attempt has started. A source reads nothing before: what it read would only queue
     * up in front of tasks still restoring (a sink committing what the checkpoint holds), and the first checkpoint's
     * barrier, and so the first output, would wait behind it; reading also takes the processor from those starts.
     */
    default boolean allTasksStarted() {
        return true;
    }

    /**
     * Called on a source subtask's thread right after it emitted its first records, before it reads more: an early
     * first checkpoint (after a restore) triggered now puts its barrier right behind them.
     */
    default void firstRecordsRead(int taskIndex) {
    }

    void endOfInput(int taskIndex);

    void taskFailed(int taskIndex, Throwable cause);

    void taskFinished(int taskIndex);
}
