package io.onceflow.api.state;

import java.util.List;

/**
 * A list of values: per key when obtained from a keyed context, per subtask when obtained as operator
 * state. On restore at another parallelism, operator list state is split evenly across subtasks.
 */
public interface ListState<T> {

    /** The current values, never null (empty when nothing was added). */
    Iterable<T> get() throws Exception;

    void add(T value) throws Exception;

    void addAll(List<T> values) throws Exception;

    /** Replaces the current values. */
    void update(List<T> values) throws Exception;

    void clear();
}
