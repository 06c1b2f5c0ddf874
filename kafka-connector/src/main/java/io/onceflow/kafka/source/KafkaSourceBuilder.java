package io.onceflow.kafka.source;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Properties;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.ConsumerConfig;

/** Builds a {@link KafkaSource}; {@link #build()} checks every option at once and says what to change. */
public final class KafkaSourceBuilder<T> {

    private String bootstrapServers;
    private List<String> topics;
    private Pattern topicPattern;
    private KafkaRecordDeserializer<T> deserializer;
    private OffsetsInitializer startingOffsets = OffsetsInitializer.earliest();
    private boolean bounded;
    private final Properties properties = new Properties();
    private Boolean commitOffsetsOnCheckpoint;
    private OffsetOutOfRangePolicy outOfRangePolicy = OffsetOutOfRangePolicy.FAIL;
    private DeadLetterLimits deadLetterLimits;
    private Duration partitionDiscoveryInterval;

    /** Flink's name for {@link #setPartitionDiscoveryInterval}, in milliseconds, accepted as a property. */
    public static final String PARTITION_DISCOVERY_INTERVAL_MS = "partition.discovery.interval.ms";
    static final Duration DEFAULT_DISCOVERY_INTERVAL = Duration.ofMinutes(5);

    KafkaSourceBuilder() {
        properties.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    }

    public KafkaSourceBuilder<T> setBootstrapServers(String bootstrapServers) {
        this.bootstrapServers = bootstrapServers;
        return this;
    }

    public KafkaSourceBuilder<T> setTopics(String... topics) {
        return setTopics(List.of(topics));
    }

    public KafkaSourceBuilder<T> setTopics(List<String> topics) {
        this.topics = List.copyOf(topics);
        return this;
    }

    /** Every topic whose name matches, as it exists when the job starts without a checkpoint. */
    public KafkaSourceBuilder<T> setTopicPattern(Pattern pattern) {
        this.topicPattern = Objects.requireNonNull(pattern, "pattern");
        return this;
    }

    public KafkaSourceBuilder<T> setDeserializer(KafkaRecordDeserializer<T> deserializer) {
        this.deserializer = Objects.requireNonNull(deserializer, "deserializer");
        return this;
    }

    /** Default: {@link OffsetsInitializer#earliest()}. */
    public KafkaSourceBuilder<T> setStartingOffsets(OffsetsInitializer startingOffsets) {
        this.startingOffsets = Objects.requireNonNull(startingOffsets, "startingOffsets");
        return this;
    }

    /** Stop at the end each partition had when the job started (the last stable offset under read_committed). */
    public KafkaSourceBuilder<T> setBounded() {
        this.bounded = true;
        return this;
    }

    /** The consumer group offsets are committed to on checkpoint completion (monitoring only). */
    public KafkaSourceBuilder<T> setGroupId(String groupId) {
        properties.put(ConsumerConfig.GROUP_ID_CONFIG, Objects.requireNonNull(groupId, "groupId"));
        return this;
    }

    /** Default true when a group id is set. */
    public KafkaSourceBuilder<T> setCommitOffsetsOnCheckpoint(boolean commit) {
        this.commitOffsetsOnCheckpoint = commit;
        return this;
    }

    /**
     * What to do when a partition's next offset is no longer in the log (records deleted before they
     * were read). Default {@link OffsetOutOfRangePolicy#FAIL}: the job stops and says how many records
     * are gone; {@link OffsetOutOfRangePolicy#EARLIEST} accepts the loss, logs and counts it.
     */
    public KafkaSourceBuilder<T> setOffsetOutOfRangePolicy(OffsetOutOfRangePolicy policy) {
        this.outOfRangePolicy = Objects.requireNonNull(policy, "policy");
        return this;
    }

    /**
     * Records the deserializer cannot handle go to the side output {@link KafkaSource#DEAD_LETTERS} (with
     * where they came from and why) instead of stopping the job, within {@link DeadLetterLimits#DEFAULT}.
     * The job must read that side output (checked when it starts), typically into a dead-letter topic
     * with an EXACTLY_ONCE KafkaSink and {@link DeadLetter#toTopic(String)}. Counted in
     * {@code <source uid>.deadLetters}. Without it, such a record stops the job.
     */
    public KafkaSourceBuilder<T> enableDeadLetters() {
        return setDeadLetterLimits(DeadLetterLimits.DEFAULT);
    }

    /** {@link #enableDeadLetters()} with other limits. */
    public KafkaSourceBuilder<T> setDeadLetterLimits(DeadLetterLimits limits) {
        this.deadLetterLimits = Objects.requireNonNull(limits, "limits");
        return this;
    }

    /**
     * How often an unbounded source looks for partitions added to its topics (and, with a pattern, for new topics
     * that match it) while it runs; default 5 minutes, {@link Duration#ZERO} to look only as the job starts or
     * restarts. Each new partition is read by one subtask from its first offset, exactly once with the rest of the
     * job's input. Flink's {@code partition.discovery.interval.ms} property (milliseconds, 0 or less: only at the
     * start) means the same here.
     */
    public KafkaSourceBuilder<T> setPartitionDiscoveryInterval(Duration interval) {
        this.partitionDiscoveryInterval = Objects.requireNonNull(interval, "interval");
        return this;
    }

    /** Any consumer property; bootstrap servers, deserializers and auto commit are managed by the source. */
    public KafkaSourceBuilder<T> setProperty(String key, String value) {
        properties.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
        return this;
    }

    public KafkaSource<T> build() {
        StringBuilder problems = new StringBuilder();
        if (bootstrapServers == null || bootstrapServers.isBlank()) {
            problems.append("\n - no bootstrap servers: call setBootstrapServers(\"host:port\")");
        }
        if ((topics == null || topics.isEmpty()) && topicPattern == null) {
            problems.append("\n - no topics: call setTopics(...) or setTopicPattern(...)");
        }
        if (topics != null && !topics.isEmpty() && topicPattern != null) {
            problems.append("\n - both topics and a topic pattern are set: choose one");
        }
        if (topics != null && topics.stream().anyMatch(t -> t == null || t.isBlank())) {
            problems.append("\n - a topic name is blank");
        }
        if (deserializer == null) {
            problems.append("\n - no deserializer: call setDeserializer(...), for example KafkaRecordDeserializer.utf8Values()");
        }
        boolean hasGroup = properties.containsKey(ConsumerConfig.GROUP_ID_CONFIG);
        if (startingOffsets instanceof OffsetsInitializer.Committed && !hasGroup) {
            problems.append("\n - starting from committed offsets needs a group id: call setGroupId(...)");
        }
        if (Boolean.TRUE.equals(commitOffsetsOnCheckpoint) && !hasGroup) {
            problems.append("\n - committing offsets on checkpoints needs a group id: call setGroupId(...)");
        }
        if (properties.containsKey(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG)) {
            problems.append("\n - auto.offset.reset is managed by the source (it must never jump to the end on its "
                    + "own): remove it, and use setStartingOffsets(...) for where a new job starts and "
                    + "setOffsetOutOfRangePolicy(...) for records deleted before they were read");
        }
        Object isolation = properties.get(ConsumerConfig.ISOLATION_LEVEL_CONFIG);
        if (!"read_committed".equals(isolation) && !"read_uncommitted".equals(isolation)) {
            problems.append("\n - isolation.level must be read_committed or read_uncommitted, was ").append(isolation);
        }
        Duration discovery = partitionDiscoveryInterval != null ? partitionDiscoveryInterval
                : DEFAULT_DISCOVERY_INTERVAL;
        Object discoveryMillis = properties.get(PARTITION_DISCOVERY_INTERVAL_MS);
        if (discoveryMillis != null) {
            try {
                discovery = Duration.ofMillis(Math.max(0, Long.parseLong(discoveryMillis.toString().trim())));
            } catch (NumberFormatException e) {
                problems.append("\n - ").append(PARTITION_DISCOVERY_INTERVAL_MS).append(" must be a number of "
                        + "milliseconds (0 or less: look for new partitions only at the start), was '")
                        .append(discoveryMillis).append('\'');
            }
            if (partitionDiscoveryInterval != null) {
                problems.append("\n - both setPartitionDiscoveryInterval(...) and the property ")
                        .append(PARTITION_DISCOVERY_INTERVAL_MS).append(" are set: choose one");
            }
        }
        if (discovery.isNegative()) {
            problems.append("\n - the partition discovery interval must not be negative, was ").append(discovery);
        }
        if (problems.length() > 0) {
            throw new IllegalArgumentException("The Kafka source is not configured correctly:" + problems);
        }
        boolean commit = commitOffsetsOnCheckpoint != null ? commitOffsetsOnCheckpoint : hasGroup;
        Properties copy = new Properties();
        copy.putAll(properties);
        copy.remove(PARTITION_DISCOVERY_INTERVAL_MS); // the source's, not the consumer's
        return new KafkaSource<>(bootstrapServers, topics, topicPattern, deserializer, startingOffsets, bounded, copy, commit,
                outOfRangePolicy, deadLetterLimits, discovery);
    }
}
