package io.onceflow.kafka.source;

import io.onceflow.api.source.SourceSplit;
import org.apache.kafka.common.TopicPartition;

/**
 * One Kafka partition and the next offset to read from it. {@code stoppingOffset} is where a bounded
 * read ends (exclusive), or {@link #NO_STOPPING_OFFSET}.
 */
public record KafkaPartitionSplit(String topic, int partition, long nextOffset, long stoppingOffset) implements SourceSplit {

    public static final long NO_STOPPING_OFFSET = Long.MIN_VALUE;

    public TopicPartition topicPartition() {
        return new TopicPartition(topic, partition);
    }

    public boolean isBounded() {
        return stoppingOffset != NO_STOPPING_OFFSET;
    }

    @Override
    public String splitId() {
        return topic + "-" + partition;
    }
}
