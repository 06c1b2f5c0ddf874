package io.onceflow.runtime.task;

/** Where an operator emits its records: the next operator of the chain, or the task's record writers. */
@FunctionalInterface
public interface Output<T> {
    void collect(T record);
}
