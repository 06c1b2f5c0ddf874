package io.onceflow.api.state;

/** One value per key. {@link #value()} is {@code null} until {@link #update} is called for the current key. */
public interface ValueState<T> {

    T value() throws Exception;

    void update(T value) throws Exception;

    void clear();
}
