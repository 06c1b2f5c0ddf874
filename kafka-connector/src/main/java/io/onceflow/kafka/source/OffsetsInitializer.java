package io.onceflow.kafka.source;

import java.util.Map;
import java.util.Objects;
import org.apache.kafka.common.TopicPartition;

/**
 * Where a partition starts when the job has no checkpoint. After the first checkpoint the position
 * lives in checkpoints and this is not consulted again.
 */
public sealed interface OffsetsInitializer {

    /** The earliest offset still in the log. */
    record Earliest() implements OffsetsInitializer {
    }

    /** The end of the log at start: only records written after the job started. */
    record Latest() implements OffsetsInitializer {
    }

    /** The consumer group's committed offset; partitions without one use {@code reset}. */
    record Committed(ResetStrategy reset) implements OffsetsInitializer {
        public Committed {
            Objects.requireNonNull(reset, "reset");
        }
    }

    /** The first offset whose record timestamp is at or after {@code timestampMillis}. */
    record Timestamp(long timestampMillis) implements OffsetsInitializer {
    }

    /** Exact offsets per partition; partitions not listed use {@code reset}. */
    record Specific(Map<TopicPartition, Long> offsets, ResetStrategy reset) implements OffsetsInitializer {
        public Specific {
            offsets = Map.copyOf(offsets);
            Objects.requireNonNull(reset, "reset");
        }
    }

    /** What a partition without a committed or specific offset does. */
    enum ResetStrategy { EARLIEST, LATEST, NONE }

    static OffsetsInitializer earliest() {
        return new Earliest();
    }

    static OffsetsInitializer latest() {
        return new Latest();
    }

    static OffsetsInitializer committedOffsets(ResetStrategy reset) {
        return new Committed(reset);
    }

    static OffsetsInitializer timestamp(long timestampMillis) {
        return new Timestamp(timestampMillis);
    }

    static OffsetsInitializer offsets(Map<TopicPartition, Long> offsets, ResetStrategy reset) {
        return new Specific(offsets, reset);
    }
}
