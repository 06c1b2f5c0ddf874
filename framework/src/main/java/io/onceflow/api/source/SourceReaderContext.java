package io.onceflow.api.source;

/** The reader's view of its subtask. */
public interface SourceReaderContext {

    int getIndexOfSubtask();

    int getParallelism();

    String getOperatorUid();

    String getJobName();
}
