package io.onceflow.api.sink;

/**
 * A sink, in the spirit of Flink's Sink V2: a factory for one {@link SinkWriter} per subtask. Mix in
 * {@link SupportsWriterState} for a writer whose state goes into checkpoints and
 * {@link SupportsCommitter} for a writer that hands committables to a {@link Committer} at every
 * checkpoint (two-phase commit).
 */
public interface Sink<T> {

    SinkWriter<T> createWriter(SinkInitContext context) throws Exception;
}
