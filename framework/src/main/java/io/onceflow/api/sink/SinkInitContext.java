package io.onceflow.api.sink;

import java.util.OptionalLong;

/** What a sink writer or committer can see of its subtask. */
public interface SinkInitContext {

    int getIndexOfSubtask();

    int getParallelism();

    String getOperatorUid();

    String getJobName();

    /** The restart attempt of this process, 0 on the first run. */
    int getAttemptNumber();

    /** The checkpoint this subtask was restored from, empty on a fresh start. */
    OptionalLong getRestoredCheckpointId();
}
