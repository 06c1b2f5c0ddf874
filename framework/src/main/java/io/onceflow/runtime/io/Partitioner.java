package io.onceflow.runtime.io;

/** Picks the downstream channel of a record. */
@FunctionalInterface
public interface Partitioner {
    int select(Object record) throws Exception;
}
