package io.onceflow.runtime.graph;

/** How records travel from the subtasks of one operator to those of the next. */
public enum Partitioning {
    /** Subtask i to subtask i; only between operators of equal parallelism. */
    FORWARD,
    /** By key group of the record's key: all records of a key reach one subtask. */
    HASH,
    /** Round-robin over all downstream subtasks. */
    REBALANCE
}
