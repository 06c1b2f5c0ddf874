package io.onceflow.api.sink;

import io.onceflow.api.serialization.VersionedSerializer;
import java.util.Collection;

/** Mix-in for a {@link Sink} whose writer is a {@link StatefulSinkWriter}. */
public interface SupportsWriterState<T, S> {

    /** Creates a writer with the state restored from a checkpoint (possibly of several old subtasks). */
    StatefulSinkWriter<T, S> restoreWriter(SinkInitContext context, Collection<S> recoveredState) throws Exception;

    VersionedSerializer<S> getWriterStateSerializer();
}
