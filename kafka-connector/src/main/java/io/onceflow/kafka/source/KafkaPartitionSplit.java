package io.onceflow.kafka.source;

import io.onceflow.api.source.SourceSplit;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;

/**
 * One Kafka partition and the next offset to read from it. {@code stoppingOffset} is where a bounded
 * read ends (exclusive), or {@link #NO_STOPPING_OFFSET}. {@code topicId} is the broker's id of the topic the offsets
 * belong to, or null where it is not known (a checkpoint of before ids were kept): a topic deleted and created again
 * under the same name gets a new id, and offsets of the old topic mean nothing in the new one.
 */
public record KafkaPartitionSplit(String topic, int partition, long nextOffset, long stoppingOffset, Uuid topicId)
        implements SourceSplit {

    public static final long NO_STOPPING_OFFSET = Long.MIN_VALUE;

    public TopicPartition topicPartition() {
        return new TopicPartition(topic, partition);
    }

    public boolean isBounded() {
        return stoppingOffset != NO_STOPPING_OFFSET;
    }

    @Override
    public String splitId() {
        return splitId(topicPartition());
    }

    /** A topic id as a split keeps it: null for none, and for the zero id of a broker that has no topic ids. */
    static Uuid knownId(Uuid id) {
        return id == null || Uuid.ZERO_UUID.equals(id) ? null : id;
    }

    /** The split id of a partition's split. */
    static String splitId(TopicPartition tp) {
        return tp.topic() + "-" + tp.partition();
    }
}
