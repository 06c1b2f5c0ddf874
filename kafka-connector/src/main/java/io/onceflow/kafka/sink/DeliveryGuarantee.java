package io.onceflow.kafka.sink;

/** What a {@link KafkaSink} promises about the records it writes. */
public enum DeliveryGuarantee {
    /** Fire and forget: records may be lost on failure and duplicated on restart. */
    NONE,
    /** Every barrier waits until all records written so far are acknowledged: no loss, duplicates after a restart. */
    AT_LEAST_ONCE,
    /**
     * Records go into Kafka transactions that commit only when the checkpoint completes: downstream
     * {@code read_committed} consumers see every record exactly once. The default.
     */
    EXACTLY_ONCE
}
