package io.onceflow.api.sink;

import java.util.List;

/** A writer whose state is part of every checkpoint. */
public interface StatefulSinkWriter<T, S> extends SinkWriter<T> {

    List<S> snapshotState(long checkpointId) throws Exception;
}
