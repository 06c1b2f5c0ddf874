package io.onceflow.kafka.source;

import io.onceflow.api.serialization.VersionedSerializer;
import io.onceflow.api.source.Boundedness;
import io.onceflow.api.source.Source;
import io.onceflow.api.source.SourceReader;
import io.onceflow.api.source.SourceReaderContext;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.ConsumerConfig;

/**
 * Reads Kafka topics with the next offset of every partition kept in checkpoints, so a restored job
 * resumes exactly where its checkpoint was taken.
 *
 * <pre>{@code
 * KafkaSource<String> source = KafkaSource.<String>builder()
 *         .setBootstrapServers("localhost:9092")
 *         .setTopics("input")
 *         .setDeserializer(KafkaRecordDeserializer.utf8Values())
 *         .setStartingOffsets(OffsetsInitializer.earliest())
 *         .build();
 * }</pre>
 *
 * <ul>
 * <li>Partitions are assigned to subtasks deterministically (sorted by topic and partition, then
 * round-robin); there is no consumer-group rebalancing. Partitions are discovered once, when the job
 * starts without a checkpoint.</li>
 * <li>Consumers use {@code isolation.level=read_committed} unless the properties say otherwise.</li>
 * <li>With a group id, offsets are committed to the group when a checkpoint completes, for lag
 * monitoring only; correctness never depends on them.</li>
 * <li>{@link KafkaSourceBuilder#setBounded()} stops at the offsets that were the end of each partition
 * (the last stable offset under read_committed) when the job started.</li>
 * </ul>
 */
public final class KafkaSource<T> implements Source<T, KafkaPartitionSplit> {

    private final String bootstrapServers;
    private final List<String> topics;
    private final Pattern topicPattern;
    private final KafkaRecordDeserializer<T> deserializer;
    private final OffsetsInitializer startingOffsets;
    private final boolean bounded;
    private final Properties properties;
    private final boolean commitOffsetsOnCheckpoint;

    KafkaSource(String bootstrapServers, List<String> topics, Pattern topicPattern, KafkaRecordDeserializer<T> deserializer,
                OffsetsInitializer startingOffsets, boolean bounded, Properties properties, boolean commitOffsetsOnCheckpoint) {
        this.bootstrapServers = bootstrapServers;
        this.topics = topics;
        this.topicPattern = topicPattern;
        this.deserializer = deserializer;
        this.startingOffsets = startingOffsets;
        this.bounded = bounded;
        this.properties = properties;
        this.commitOffsetsOnCheckpoint = commitOffsetsOnCheckpoint;
    }

    public static <T> KafkaSourceBuilder<T> builder() {
        return new KafkaSourceBuilder<>();
    }

    @Override
    public Boundedness getBoundedness() {
        return bounded ? Boundedness.BOUNDED : Boundedness.CONTINUOUS_UNBOUNDED;
    }

    @Override
    public List<KafkaPartitionSplit> createInitialSplits() throws Exception {
        return new InitialOffsets(bootstrapServers, properties).resolve(topics, topicPattern, startingOffsets, bounded);
    }

    @Override
    public SourceReader<T, KafkaPartitionSplit> createReader(SourceReaderContext context) {
        return new KafkaSourceReader<>(consumerProperties(context), deserializer, commitOffsetsOnCheckpoint);
    }

    @Override
    public VersionedSerializer<KafkaPartitionSplit> getSplitSerializer() {
        return KafkaPartitionSplitSerializer.INSTANCE;
    }

    Properties consumerProperties(SourceReaderContext context) {
        Properties p = new Properties();
        p.putAll(properties);
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.putIfAbsent(ConsumerConfig.CLIENT_ID_CONFIG, "onceflow-" + context.getJobName() + "-" + context.getOperatorUid()
                + "-" + context.getIndexOfSubtask());
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, "org.apache.kafka.common.serialization.ByteArrayDeserializer");
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, "org.apache.kafka.common.serialization.ByteArrayDeserializer");
        return p;
    }

    /** The topics read, when given by name. */
    public Collection<String> getTopics() {
        return topics == null ? List.of() : new ArrayList<>(topics);
    }

    static Map<String, Object> asMap(Properties properties) {
        Map<String, Object> map = new java.util.HashMap<>();
        properties.forEach((k, v) -> map.put(Objects.toString(k), v));
        return map;
    }
}
