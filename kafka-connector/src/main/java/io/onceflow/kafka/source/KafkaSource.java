package io.onceflow.kafka.source;

import io.onceflow.api.serialization.VersionedSerializer;
import io.onceflow.api.source.Boundedness;
import io.onceflow.api.source.Source;
import io.onceflow.api.source.SourceReader;
import io.onceflow.api.source.SourceReaderContext;
import io.onceflow.kafka.internal.DaemonThreads;
import io.onceflow.kafka.internal.KafkaClassesWarmUp;
import io.onceflow.kafka.internal.SharedAdmin;
import io.onceflow.kafka.sink.internal.TransactionalProducer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
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
 * round-robin); there is no consumer-group rebalancing. Partitions added to the topics (or topics matching the
 * pattern) while the job runs or is down are found by each reader's looks
 * ({@link KafkaSourceBuilder#setPartitionDiscoveryInterval}) and read from their first offset.</li>
 * <li>Each partition's offsets are kept with its topic's id: a topic deleted and created again under the same name
 * is never read at the old topic's offsets. A restored reader checks its topics' ids before its first record and the
 * job stops with a message naming the topic, unless {@link KafkaSourceBuilder#setOffsetOutOfRangePolicy} accepts
 * reading the new topic from its start.</li>
 * <li>Consumers use {@code isolation.level=read_committed} unless the properties say otherwise.</li>
 * <li>With a group id, offsets are committed to the group when a checkpoint completes, for lag
 * monitoring only; correctness never depends on them.</li>
 * <li>{@link KafkaSourceBuilder#setBounded()} stops at the offsets that were the end of each partition
 * (the last stable offset under read_committed) when the job started.</li>
 * <li>An offset that is no longer in the log (records deleted by retention before they were read) stops
 * the job with a message saying how many records are gone, unless
 * {@link KafkaSourceBuilder#setOffsetOutOfRangePolicy} accepts the loss; never a silent jump to the end.</li>
 * </ul>
 */
public final class KafkaSource<T> implements Source<T, KafkaPartitionSplit>, io.onceflow.api.ValidatesConfiguration {

    /**
     * The side output of records the deserializer could not handle, when dead letters are enabled
     * ({@link KafkaSourceBuilder#enableDeadLetters()}): read it with
     * {@code stream.getSideOutput(KafkaSource.DEAD_LETTERS)} and write it with an EXACTLY_ONCE KafkaSink
     * and {@link DeadLetter#toTopic(String)}.
     */
    public static final io.onceflow.api.OutputTag<DeadLetter> DEAD_LETTERS = new io.onceflow.api.OutputTag<>("kafka-dead-letters");

    private final String bootstrapServers;
    private final List<String> topics;
    private final Pattern topicPattern;
    private final KafkaRecordDeserializer<T> deserializer;
    private final OffsetsInitializer startingOffsets;
    private final boolean bounded;
    private final Properties properties;
    private final boolean commitOffsetsOnCheckpoint;
    private final OffsetOutOfRangePolicy outOfRangePolicy;
    private final DeadLetterLimits deadLetterLimits;
    private final Duration partitionDiscoveryInterval;
    /**
     * The source's Admin client in this process (the listing of its partitions and starting offsets, the readers'
     * check of topic ids, their looks for new partitions), shared with the job's other Kafka sources whose Admin settings
     * are the same ({@link SharedAdmin#of}); not with its sinks.
     */
    private final SharedAdmin admin;

    /**
     * Where readers look at their topics' ids, and where the source's shared Admin client is created; daemon threads,
     * gone after a minute.
     */
    private static final ExecutorService BACKGROUND = DaemonThreads.cached("onceflow kafka source admin");

    KafkaSource(String bootstrapServers, List<String> topics, Pattern topicPattern, KafkaRecordDeserializer<T> deserializer,
                OffsetsInitializer startingOffsets, boolean bounded, Properties properties, boolean commitOffsetsOnCheckpoint,
                OffsetOutOfRangePolicy outOfRangePolicy, DeadLetterLimits deadLetterLimits,
                Duration partitionDiscoveryInterval) {
        this.deadLetterLimits = deadLetterLimits;
        this.partitionDiscoveryInterval = partitionDiscoveryInterval;
        this.bootstrapServers = bootstrapServers;
        this.topics = topics;
        this.topicPattern = topicPattern;
        this.deserializer = deserializer;
        this.startingOffsets = startingOffsets;
        this.bounded = bounded;
        this.properties = properties;
        this.commitOffsetsOnCheckpoint = commitOffsetsOnCheckpoint;
        this.outOfRangePolicy = outOfRangePolicy;
        Properties client = new Properties();
        client.putAll(properties);
        client.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        this.admin = SharedAdmin.of("source", TransactionalProducer.adminProperties(client), BACKGROUND);
    }

    /** The source's Admin client in this process (for the tests). */
    SharedAdmin sharedAdmin() {
        return admin;
    }

    public static <T> KafkaSourceBuilder<T> builder() {
        KafkaClassesWarmUp.start(); // the job's first Kafka client will need them soon
        return new KafkaSourceBuilder<>();
    }

    @Override
    public Boundedness getBoundedness() {
        return bounded ? Boundedness.BOUNDED : Boundedness.CONTINUOUS_UNBOUNDED;
    }

    @Override
    public List<KafkaPartitionSplit> createInitialSplits() throws Exception {
        // with the source's shared client, which its readers use next
        return admin.use(a -> new InitialOffsets(bootstrapServers, properties)
                .resolve(a, topics, topicPattern, startingOffsets, bounded));
    }

    @Override
    public SourceReader<T, KafkaPartitionSplit> createReader(SourceReaderContext context) {
        return new KafkaSourceReader<>(consumerProperties(context), deserializer, commitOffsetsOnCheckpoint,
                outOfRangePolicy, context, bounded, deadLetterLimits,
                new KafkaSourceReader.Discovery(topics, topicPattern, partitionDiscoveryInterval), admin, BACKGROUND);
    }

    /** How often a running reader looks for partitions added to its topics; zero: only as it starts. */
    Duration partitionDiscoveryInterval() {
        return partitionDiscoveryInterval;
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
        // positions come from checkpoints; an offset out of range is handled by OffsetOutOfRangePolicy
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none");
        // a source never creates its input: a topic deleted under it would come back empty, under a new id
        p.putIfAbsent(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, "false");
        p.putIfAbsent(ConsumerConfig.CLIENT_ID_CONFIG, "onceflow-" + context.getJobName() + "-" + context.getOperatorUid()
                + "-" + context.getIndexOfSubtask());
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, "org.apache.kafka.common.serialization.ByteArrayDeserializer");
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, "org.apache.kafka.common.serialization.ByteArrayDeserializer");
        return p;
    }

    /** Refuses dead letters that nobody reads: they would vanish. */
    @Override
    public void validate(Context context) {
        if (deadLetterLimits != null && !context.consumedSideOutputs().contains(DEAD_LETTERS.getId())) {
            throw new IllegalArgumentException("Kafka source '" + context.operatorUid() + "' sends records it cannot "
                    + "deserialize to dead letters, but nothing reads them, so they would be lost: add "
                    + "stream.getSideOutput(KafkaSource.DEAD_LETTERS).sinkTo(<an EXACTLY_ONCE KafkaSink with "
                    + "DeadLetter.toTopic(\"your-dead-letter-topic\")>), or remove enableDeadLetters()");
        }
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
