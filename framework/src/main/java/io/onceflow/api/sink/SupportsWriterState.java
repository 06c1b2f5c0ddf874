package io.onceflow.api.sink;

import io.onceflow.api.serialization.VersionedSerializer;
import java.util.Collection;

/** Mix-in for a {@link Sink} whose writer is a {@link StatefulSinkWriter}. */
public interface SupportsWriterState<T, S> {

    /** Creates a writer with the state restored from a checkpoint (possibly of several old subtasks). */
    StatefulSinkWriter<T, S> restoreWriter(SinkInitContext context, Collection<S> recoveredState) throws Exception;

    VersionedSerializer<S> getWriterStateSerializer();

    /**
     * Whether {@link #restoreWriter} may run while the committables restored from the same checkpoint are still
     * being committed, on another thread. A sink that says yes must call {@link SinkInitContext#awaitRestoredCommits()}
     * in {@code restoreWriter} before it does anything those commits could be affected by (sweeping transactions
     * that no checkpoint refers to, reusing a name one of them had), and may do the rest meanwhile (a two-phase-commit
     * sink aborts the transactions that were open at the checkpoint, which the commits never touch). By default
     * no: the restored committables are committed before {@code restoreWriter} is called.
     */
    default boolean restoresWhileCommitting() {
        return false;
    }
}
