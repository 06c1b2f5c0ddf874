package io.onceflow.apps;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import io.onceflow.testing.SequenceChecker;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Reads a word-count output topic from the beginning with an independent {@code read_committed}
 * consumer (it shares nothing with the pipeline) and checks that every word's values are exactly 1, 2, …, n, with n its number of
 * occurrences in the input. A repeated value is a duplicate, a missing one a loss.
 */
final class OutputCheck {

    private OutputCheck() {
    }

    /** Everything committed in {@code topic}: (word, count) in partition order. */
    static List<Map.Entry<String, Long>> readCommitted(String bootstrapServers, String topic, Duration timeout) throws Exception {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        Map<TopicPartition, Long> end = new HashMap<>();
        Properties ap = new Properties();
        ap.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        try (Admin admin = Admin.create(ap)) {
            var description = admin.describeTopics(List.of(topic)).allTopicNames().get(30, TimeUnit.SECONDS).get(topic);
            Map<TopicPartition, OffsetSpec> request = new HashMap<>();
            description.partitions().forEach(pi -> request.put(new TopicPartition(topic, pi.partition()), OffsetSpec.latest()));
            admin.listOffsets(request, new ListOffsetsOptions(IsolationLevel.READ_COMMITTED)).all().get(30, TimeUnit.SECONDS)
                    .forEach((tp, info) -> end.put(tp, info.offset()));
        }
        List<Map.Entry<String, Long>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
            consumer.assign(end.keySet());
            consumer.seekToBeginning(end.keySet());
            long deadline = System.nanoTime() + timeout.toNanos();
            while (end.entrySet().stream().anyMatch(e -> consumer.position(e.getKey()) < e.getValue())) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("Reading " + topic + " did not reach its end within " + timeout);
                }
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    String word = r.key() == null ? "" : new String(r.key(), StandardCharsets.UTF_8);
                    String value = r.value() == null ? "" : new String(r.value(), StandardCharsets.UTF_8);
                    long count;
                    try {
                        count = Long.parseLong(value);
                    } catch (NumberFormatException e) {
                        count = -1;
                    }
                    out.add(Map.entry(word, count));
                }
            }
        }
        return out;
    }

    /** Checks committed (word, count) records against the occurrences of every word in the input. */
    static SequenceChecker.Result check(List<Map.Entry<String, Long>> output, Map<String, Long> expected) {
        List<String> records = new ArrayList<>(output.size());
        for (Map.Entry<String, Long> e : output) {
            records.add(e.getKey() + "," + e.getValue());
        }
        return SequenceChecker.check(records, expected);
    }
}
