package io.onceflow.api;

/**
 * Keyed state as Java objects on the heap, snapshot asynchronously (a checkpoint freezes copy-on-write
 * maps at the barrier and writes them while the task goes on). A value object of a
 * {@code ValueState} must not be changed after {@code update()}: update with a new object.
 */
public record HeapStateBackend() implements StateBackend {

    @Override
    public String name() {
        return "heap";
    }
}
