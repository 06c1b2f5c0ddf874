package io.onceflow.kafka.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.onceflow.kafka.testing.KafkaTestCluster;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** Input, output and independent verification for Kafka-to-Kafka pipeline tests. */
final class Pipelines {

    private Pipelines() {
    }

    static String createTopic(KafkaTestCluster kafka, String prefix, int partitions) throws Exception {
        String name = prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
        try (Admin admin = kafka.createAdmin()) {
            admin.createTopics(List.of(new NewTopic(name, partitions, (short) 1))).all().get(30, TimeUnit.SECONDS);
        }
        return name;
    }

    /** Writes {@code total} words "key-(i % keys)" and returns how often each occurs. */
    static Map<String, Long> writeWords(KafkaTestCluster kafka, String topic, int total, int keys) {
        Properties p = kafka.clientProperties();
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        Map<String, Long> expected = new HashMap<>();
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            for (int i = 0; i < total; i++) {
                String word = "key-" + (i % keys);
                producer.send(new ProducerRecord<>(topic, null, word));
                expected.merge(word, 1L, Long::sum);
            }
        }
        return expected;
    }

    /**
     * Everything a fresh {@code read_committed} consumer finds in {@code topic}, as "key,value" strings,
     * read up to the last stable offset.
     */
    static List<String> readCommitted(KafkaTestCluster kafka, String topic) throws Exception {
        Map<TopicPartition, Long> end = new HashMap<>();
        try (Admin admin = kafka.createAdmin()) {
            var d = admin.describeTopics(List.of(topic)).allTopicNames().get(30, TimeUnit.SECONDS).get(topic);
            Map<TopicPartition, OffsetSpec> request = new HashMap<>();
            d.partitions().forEach(pi -> request.put(new TopicPartition(topic, pi.partition()), OffsetSpec.latest()));
            admin.listOffsets(request, new ListOffsetsOptions(IsolationLevel.READ_COMMITTED)).all()
                    .get(30, TimeUnit.SECONDS).forEach((tp, i) -> end.put(tp, i.offset()));
        }
        List<String> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = consumer(kafka)) {
            consumer.assign(end.keySet());
            consumer.seekToBeginning(end.keySet());
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (end.entrySet().stream().anyMatch(e -> consumer.position(e.getKey()) < e.getValue())) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("could not read " + topic + " to its end within 60 s");
                }
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    out.add(text(r.key()) + "," + text(r.value()));
                }
            }
        }
        return out;
    }

    /** How many records of {@code topic} are committed (visible to read_committed), from its last stable offsets. */
    static long committedCount(KafkaTestCluster kafka, String topic) throws Exception {
        try (Admin admin = kafka.createAdmin()) {
            var d = admin.describeTopics(List.of(topic)).allTopicNames().get(30, TimeUnit.SECONDS).get(topic);
            Map<TopicPartition, OffsetSpec> request = new HashMap<>();
            d.partitions().forEach(pi -> request.put(new TopicPartition(topic, pi.partition()), OffsetSpec.latest()));
            return admin.listOffsets(request, new ListOffsetsOptions(IsolationLevel.READ_COMMITTED)).all()
                    .get(30, TimeUnit.SECONDS).values().stream().mapToLong(i -> i.offset()).sum();
        }
    }

    private static String text(byte[] b) {
        return b == null ? "" : new String(b, StandardCharsets.UTF_8);
    }

    private static KafkaConsumer<byte[], byte[]> consumer(KafkaTestCluster kafka) {
        Properties p = kafka.clientProperties();
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        return new KafkaConsumer<>(p);
    }

    /**
     * Writes a marker record to every partition of {@code topic}, outside any transaction, and requires a new
     * read_committed consumer to see all of them within 10 s: no transaction is left hanging in front of them.
     */
    static void assertMarkersVisible(KafkaTestCluster kafka, String topic) throws Exception {
        int partitions;
        try (Admin admin = kafka.createAdmin()) {
            partitions = admin.describeTopics(List.of(topic)).allTopicNames().get(30, TimeUnit.SECONDS).get(topic)
                    .partitions().size();
        }
        Properties p = kafka.clientProperties();
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            for (int i = 0; i < partitions; i++) {
                producer.send(new ProducerRecord<>(topic, i, "marker", "marker")).get(30, TimeUnit.SECONDS);
            }
        }
        List<TopicPartition> tps = new ArrayList<>();
        for (int i = 0; i < partitions; i++) {
            tps.add(new TopicPartition(topic, i));
        }
        int seen = 0;
        try (KafkaConsumer<byte[], byte[]> consumer = consumer(kafka)) {
            consumer.assign(tps);
            consumer.seekToBeginning(tps);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (seen < partitions && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    if ("marker".equals(text(r.key()))) {
                        seen++;
                    }
                }
            }
        }
        assertEquals(partitions, seen, "markers visible to a new read_committed consumer within 10 s "
                + "(a hanging transaction holds back the last stable offset)");
    }
}
