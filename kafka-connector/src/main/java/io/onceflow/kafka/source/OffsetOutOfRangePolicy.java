package io.onceflow.kafka.source;

/**
 * What the source does when the next offset of a partition is no longer in the log: below its start
 * (retention or {@code deleteRecords} removed records before they were read) or beyond its end (the
 * topic was deleted and created again, or truncated). Never Kafka's {@code auto.offset.reset=latest},
 * which would silently skip everything still on the broker.
 */
public enum OffsetOutOfRangePolicy {
    /**
     * The default: the job stops (without restarting into the same failure) with a message naming the
     * partition, the offset it had to resume at, the log's range, and how many records are gone.
     */
    FAIL,
    /**
     * Continue from the earliest offset still in the log. The records that are gone are logged at ERROR
     * and counted in {@code <source uid>.recordsLostToOffsetReset}.
     */
    EARLIEST
}
