package io.onceflow.api.state;

/** One value per key, combined with every added value by the descriptor's reduce function. */
public interface ReducingState<T> {

    /** The reduced value, or {@code null} when nothing was added for the current key. */
    T get() throws Exception;

    void add(T value) throws Exception;

    void clear();
}
