package io.onceflow.kafka.source;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

/** Lists the partitions to read and resolves where each starts (and, if bounded, stops), with the Admin client. */
final class InitialOffsets {

    private static final long TIMEOUT_SECONDS = 30;

    private final String bootstrapServers;
    private final Properties properties;

    InitialOffsets(String bootstrapServers, Properties properties) {
        this.bootstrapServers = bootstrapServers;
        this.properties = properties;
    }

    /**
     * The source's splits, asked with {@code admin}: the source's shared Admin client ({@code SharedAdmin}), which its
     * readers use too, rather than a client of its own for one question.
     */
    List<KafkaPartitionSplit> resolve(Admin admin, List<String> topics, Pattern pattern, OffsetsInitializer starting,
                                      boolean bounded) throws Exception {
        try {
            Map<String, Uuid> topicIds = new HashMap<>();
            List<TopicPartition> partitions = partitions(admin, topics, pattern, topicIds);
            IsolationLevel isolation = "read_uncommitted".equals(properties.get(ConsumerConfig.ISOLATION_LEVEL_CONFIG))
                    ? IsolationLevel.READ_UNCOMMITTED : IsolationLevel.READ_COMMITTED;
            Map<TopicPartition, Long> start = startOffsets(admin, partitions, starting, isolation);
            Map<TopicPartition, Long> stop = bounded ? offsets(admin, partitions, OffsetSpec.latest(), isolation) : Map.of();
            List<KafkaPartitionSplit> splits = new ArrayList<>();
            for (TopicPartition tp : partitions) {
                long s = start.get(tp);
                long e = bounded ? stop.get(tp) : KafkaPartitionSplit.NO_STOPPING_OFFSET;
                splits.add(new KafkaPartitionSplit(tp.topic(), tp.partition(), bounded ? Math.min(s, e) : s, e,
                        topicIds.get(tp.topic())));
            }
            return splits;
        } catch (ExecutionException e) {
            throw new IllegalStateException("Could not list the partitions and offsets of the Kafka source at "
                    + bootstrapServers + ": " + e.getCause().getMessage(), e.getCause());
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("The Kafka brokers at " + bootstrapServers + " did not answer within "
                    + TIMEOUT_SECONDS + " s: check the bootstrap servers and that the brokers are running", e);
        }
    }

    /** The partitions of the source's topics, sorted; {@code topicIds} gets each topic's id. */
    private static List<TopicPartition> partitions(Admin admin, List<String> topics, Pattern pattern,
                                                   Map<String, Uuid> topicIds) throws Exception {
        Collection<String> names;
        if (pattern != null) {
            Set<String> all = admin.listTopics().names().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            names = all.stream().filter(t -> pattern.matcher(t).matches()).sorted().toList();
            if (names.isEmpty()) {
                throw new IllegalStateException("No topic matches the pattern '" + pattern + "' of the Kafka source");
            }
        } else {
            names = topics;
        }
        Map<String, TopicDescription> descriptions;
        try {
            descriptions = admin.describeTopics(names).allTopicNames().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof UnknownTopicOrPartitionException) {
                throw new IllegalStateException("A topic of the Kafka source does not exist (" + names + "): create it "
                        + "first, or check the name", e.getCause());
            }
            throw e;
        }
        List<TopicPartition> result = new ArrayList<>();
        for (TopicDescription d : descriptions.values()) {
            topicIds.put(d.name(), KafkaPartitionSplit.knownId(d.topicId()));
            d.partitions().forEach(pi -> result.add(new TopicPartition(d.name(), pi.partition())));
        }
        result.sort(Comparator.comparing(TopicPartition::topic).thenComparingInt(TopicPartition::partition));
        return result;
    }

    private Map<TopicPartition, Long> startOffsets(Admin admin, List<TopicPartition> partitions, OffsetsInitializer init,
                                                   IsolationLevel isolation) throws Exception {
        if (init instanceof OffsetsInitializer.Earliest) {
            return offsets(admin, partitions, OffsetSpec.earliest(), isolation);
        } else if (init instanceof OffsetsInitializer.Latest) {
            return offsets(admin, partitions, OffsetSpec.latest(), isolation);
        } else if (init instanceof OffsetsInitializer.Timestamp ts) {
            Map<TopicPartition, Long> byTime = offsets(admin, partitions, OffsetSpec.forTimestamp(ts.timestampMillis()), isolation);
            Map<TopicPartition, Long> latest = offsets(admin, partitions, OffsetSpec.latest(), isolation);
            Map<TopicPartition, Long> result = new HashMap<>();
            // no record at or after the timestamp: start at the end
            partitions.forEach(tp -> result.put(tp, byTime.get(tp) < 0 ? latest.get(tp) : byTime.get(tp)));
            return result;
        } else if (init instanceof OffsetsInitializer.Committed c) {
            String group = (String) properties.get(ConsumerConfig.GROUP_ID_CONFIG);
            Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(group)
                    .partitionsToOffsetAndMetadata().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            return withReset(admin, partitions, committed == null ? Map.of() : toOffsets(committed), c.reset(), isolation,
                    "no committed offset in group '" + group + "'");
        } else if (init instanceof OffsetsInitializer.Specific s) {
            return withReset(admin, partitions, s.offsets(), s.reset(), isolation, "no specific offset");
        }
        throw new IllegalArgumentException("Unknown starting offsets " + init);
    }

    private static Map<TopicPartition, Long> toOffsets(Map<TopicPartition, OffsetAndMetadata> committed) {
        Map<TopicPartition, Long> result = new HashMap<>();
        committed.forEach((tp, om) -> {
            if (om != null) {
                result.put(tp, om.offset());
            }
        });
        return result;
    }

    private Map<TopicPartition, Long> withReset(Admin admin, List<TopicPartition> partitions, Map<TopicPartition, Long> known,
                                                OffsetsInitializer.ResetStrategy reset, IsolationLevel isolation, String why)
            throws Exception {
        List<TopicPartition> missing = partitions.stream().filter(tp -> !known.containsKey(tp)).toList();
        Map<TopicPartition, Long> result = new HashMap<>(known);
        if (!missing.isEmpty()) {
            switch (reset) {
                case EARLIEST -> result.putAll(offsets(admin, missing, OffsetSpec.earliest(), isolation));
                case LATEST -> result.putAll(offsets(admin, missing, OffsetSpec.latest(), isolation));
                case NONE -> throw new IllegalStateException("Partitions " + missing + " have " + why
                        + " and the reset strategy is NONE: choose EARLIEST or LATEST, or give their offsets");
            }
        }
        return result;
    }

    private static Map<TopicPartition, Long> offsets(Admin admin, List<TopicPartition> partitions, OffsetSpec spec,
                                                     IsolationLevel isolation) throws Exception {
        Map<TopicPartition, OffsetSpec> request = new HashMap<>();
        partitions.forEach(tp -> request.put(tp, spec));
        Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> info = admin
                .listOffsets(request, new ListOffsetsOptions(isolation)).all().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        Map<TopicPartition, Long> result = new HashMap<>();
        info.forEach((tp, i) -> result.put(tp, i.offset()));
        return result;
    }
}
