package io.onceflow.api;

/**
 * Keyed state as Java objects on the heap, snapshot asynchronously (a checkpoint freezes copy-on-write
 * maps at the barrier and writes them while the task goes on). A value object of a
 * {@code ValueState} must not be changed after {@code update()}: update with a new object.
 *
 * @param incrementalCheckpoints whether a checkpoint writes only the entries changed and the keys
 *                               removed since the last one (the default), as a delta in the job's shared
 *                               state storage next to a full base that is rewritten once the deltas
 *                               outgrow it; or the whole state every time
 */
public record HeapStateBackend(boolean incrementalCheckpoints) implements StateBackend {

    /** The default: incremental checkpoints. */
    public HeapStateBackend() {
        this(true);
    }

    /** Incremental (the default) or full checkpoints. */
    public HeapStateBackend withIncrementalCheckpoints(boolean incremental) {
        return new HeapStateBackend(incremental);
    }

    @Override
    public String name() {
        return "heap";
    }
}
