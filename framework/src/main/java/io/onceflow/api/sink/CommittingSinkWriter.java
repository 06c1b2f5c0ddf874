package io.onceflow.api.sink;

import java.util.Collection;

/** A writer that hands committables to a {@link Committer} at each checkpoint. */
public interface CommittingSinkWriter<T, C> extends SinkWriter<T> {

    /**
     * Called at a barrier, after {@link #flush}: returns what must be committed once the checkpoint
     * completes (for example the pre-committed transaction), and starts a new unit of work.
     * Returning an empty collection means nothing to commit for this checkpoint.
     *
     * @param checkpointId the checkpoint the committables belong to; ids only grow, also across restarts
     *                     of the process, so they can name external transactions
     */
    Collection<C> prepareCommit(long checkpointId) throws Exception;
}
