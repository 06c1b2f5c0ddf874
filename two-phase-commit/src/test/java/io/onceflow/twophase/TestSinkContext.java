package io.onceflow.twophase;

import io.onceflow.api.sink.SinkInitContext;
import java.util.OptionalLong;

/**
 * A sink subtask's context for driving writers and committers without a runtime; {@code awaitingRestoredCommits}
 * runs where a writer waits for the restored commits (nothing runs them here).
 */
public record TestSinkContext(String getJobName, String getOperatorUid, int getIndexOfSubtask, int getParallelism,
                              int getAttemptNumber, OptionalLong getRestoredCheckpointId,
                              Runnable awaitingRestoredCommits) implements SinkInitContext {

    public TestSinkContext(String getJobName, String getOperatorUid, int getIndexOfSubtask, int getParallelism,
                           int getAttemptNumber, OptionalLong getRestoredCheckpointId) {
        this(getJobName, getOperatorUid, getIndexOfSubtask, getParallelism, getAttemptNumber, getRestoredCheckpointId,
                () -> { });
    }

    public static TestSinkContext fresh(int subtask, int parallelism) {
        return new TestSinkContext("job", "sink", subtask, parallelism, 0, OptionalLong.empty());
    }

    public static TestSinkContext restored(int subtask, int parallelism, long checkpointId) {
        return new TestSinkContext("job", "sink", subtask, parallelism, 1, OptionalLong.of(checkpointId));
    }

    /** This context, running {@code action} where a writer waits for the restored commits. */
    public TestSinkContext whenAwaitingRestoredCommits(Runnable action) {
        return new TestSinkContext(getJobName, getOperatorUid, getIndexOfSubtask, getParallelism, getAttemptNumber,
                getRestoredCheckpointId, action);
    }

    @Override
    public void awaitRestoredCommits() {
        awaitingRestoredCommits.run();
    }
}
