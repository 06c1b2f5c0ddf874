package io.onceflow.api;

/** What a checkpoint guarantees about the state it captures. */
public enum CheckpointingMode {
    /**
     * Tasks with several inputs align barriers: an input that delivered barrier {@code n} is held back
     * until every input has, so each record's effect is in exactly one checkpoint. The default.
     */
    EXACTLY_ONCE,
    /**
     * No input is held back: records after a barrier may be in the snapshot and are replayed after a
     * restore. Lower latency under skew; duplicates are possible, losses are not.
     */
    AT_LEAST_ONCE
}
