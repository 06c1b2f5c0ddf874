package io.onceflow.twophase;

import io.onceflow.api.sink.SinkInitContext;
import java.util.OptionalLong;

/** A sink subtask's context for driving writers and committers without a runtime. */
public record TestSinkContext(String getJobName, String getOperatorUid, int getIndexOfSubtask, int getParallelism,
                              int getAttemptNumber, OptionalLong getRestoredCheckpointId) implements SinkInitContext {

    public static TestSinkContext fresh(int subtask, int parallelism) {
        return new TestSinkContext("job", "sink", subtask, parallelism, 0, OptionalLong.empty());
    }

    public static TestSinkContext restored(int subtask, int parallelism, long checkpointId) {
        return new TestSinkContext("job", "sink", subtask, parallelism, 1, OptionalLong.of(checkpointId));
    }
}
