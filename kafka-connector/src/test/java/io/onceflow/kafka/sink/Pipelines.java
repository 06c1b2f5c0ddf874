package io.onceflow.kafka.sink;

import io.onceflow.kafka.broker.Topics;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.onceflow.kafka.testing.KafkaTestCluster;
import io.onceflow.kafka.testing.TestInput;
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
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** Input, output and independent verification for Kafka-to-Kafka pipeline tests. */
final class Pipelines {

    /**
     * A Kafka sink's transaction handler of String records (key and value the record) into {@code topic}, with
     * {@code prefix} as its transactional id prefix: for tests that drive the handler by hand.
     */
    static KafkaTransactionHandler<String> stringHandler(KafkaTestCluster kafka, String prefix, String topic) {
        return stringHandler(kafka, prefix, KafkaRecordSerializer.forTopic(topic,
                v -> v.getBytes(StandardCharsets.UTF_8), v -> v.getBytes(StandardCharsets.UTF_8)));
    }

    /** The same with a serializer of the caller's. */
    static KafkaTransactionHandler<String> stringHandler(KafkaTestCluster kafka, String prefix,
                                                         KafkaRecordSerializer<String> serializer) {
        return new KafkaTransactionHandler<>(new KafkaSink<>(KafkaSink.<String>builder()
                .setBootstrapServers(kafka.bootstrapServers())
                .setDeliveryGuarantee(DeliveryGuarantee.EXACTLY_ONCE)
                .setTransactionalIdPrefix(prefix)
                .setRecordSerializer(serializer)));
    }

    private Pipelines() {
    }

    static String createTopic(KafkaTestCluster kafka, String prefix, int partitions) throws Exception {
        String name = prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
        try (Admin admin = kafka.createAdmin()) {
            Topics.create(admin, partitions, name);
        }
        return name;
    }

    /**
     * Writes {@code total} words "key-(i % keys)" and returns how often each occurs in the topic, read back
     * (see {@link TestInput}: a send that failed is made again, and may then land twice).
     */
    static Map<String, Long> writeWords(KafkaTestCluster kafka, String topic, int total, int keys) {
        try (TestInput input = TestInput.to(kafka.bootstrapServers())) {
            for (int i = 0; i < total; i++) {
                input.send(topic, "key-" + (i % keys));
            }
        }
        return TestInput.wordCounts(TestInput.readAll(kafka.bootstrapServers(), topic, Duration.ofSeconds(60)));
    }

    /** Poison records written among the words: not valid UTF-8. */
    static final byte[] POISON = {(byte) 0xff, (byte) 0xfe, (byte) 0xfd};

    /**
     * Writes {@code total} records: mostly the words "key-(i % keys)", but every {@code poisonEvery}-th one a
     * record that is not valid UTF-8, without a key (so it lands among the words), with headers "origin"="test"
     * and "poison"="poison-i". Returns how often each word occurs; each poison id goes into {@code poisonKeys}
     * with its number of copies on the topic, read back.
     */
    static Map<String, Long> writeWordsWithPoison(KafkaTestCluster kafka, String topic, int total, int keys, int poisonEvery,
                                                  Map<String, Integer> poisonKeys) {
        try (TestInput input = TestInput.to(kafka.bootstrapServers())) {
            for (int i = 0; i < total; i++) {
                if (i % poisonEvery == poisonEvery - 1) {
                    ProducerRecord<byte[], byte[]> r = new ProducerRecord<>(topic, null, POISON);
                    r.headers().add("origin", "test".getBytes(StandardCharsets.UTF_8));
                    r.headers().add("poison", ("poison-" + i).getBytes(StandardCharsets.UTF_8));
                    input.send(r);
                } else {
                    input.send(topic, "key-" + (i % keys));
                }
            }
        }
        List<ConsumerRecord<byte[], byte[]>> written = TestInput.readAll(kafka.bootstrapServers(), topic, Duration.ofSeconds(60));
        for (ConsumerRecord<byte[], byte[]> r : written) {
            Header poison = r.headers().lastHeader("poison");
            if (poison != null) {
                // a record the writer sent again can be on the topic twice: each copy is input of its own
                poisonKeys.merge(new String(poison.value(), StandardCharsets.UTF_8), 1, Integer::sum);
            }
        }
        return TestInput.wordCounts(written);
    }

    /**
     * Everything a fresh {@code read_committed} consumer finds in {@code topic}, as "key,value" strings,
     * read up to the last stable offset.
     */
    static List<String> readCommitted(KafkaTestCluster kafka, String topic) throws Exception {
        List<String> out = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : readCommittedRecords(kafka, topic)) {
            out.add(text(r.key()) + "," + text(r.value()));
        }
        return out;
    }

    /** Every record a fresh {@code read_committed} consumer finds in {@code topic}, up to the last stable offset. */
    static List<ConsumerRecord<byte[], byte[]>> readCommittedRecords(KafkaTestCluster kafka, String topic) throws Exception {
        Map<TopicPartition, Long> end = new HashMap<>();
        try (Admin admin = kafka.createAdmin()) {
            var d = admin.describeTopics(List.of(topic)).allTopicNames().get(30, TimeUnit.SECONDS).get(topic);
            Map<TopicPartition, OffsetSpec> request = new HashMap<>();
            d.partitions().forEach(pi -> request.put(new TopicPartition(topic, pi.partition()), OffsetSpec.latest()));
            admin.listOffsets(request, new ListOffsetsOptions(IsolationLevel.READ_COMMITTED)).all()
                    .get(30, TimeUnit.SECONDS).forEach((tp, i) -> end.put(tp, i.offset()));
        }
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = consumer(kafka)) {
            consumer.assign(end.keySet());
            consumer.seekToBeginning(end.keySet());
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (end.entrySet().stream().anyMatch(e -> consumer.position(e.getKey()) < e.getValue())) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("could not read " + topic + " to its end within 60 s");
                }
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    out.add(r);
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

    static String text(byte[] b) {
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

    static String header(ConsumerRecord<byte[], byte[]> r, String name) {
        org.apache.kafka.common.header.Header h = r.headers().lastHeader(name);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    /** Checks the dead-letter topic holds each poison record exactly once, with its origin and error. */
    static void assertEachPoisonRecordOnce(KafkaTestCluster kafka, String deadLetterTopic, String input, Map<String, Integer> poisonKeys) throws Exception {
        List<ConsumerRecord<byte[], byte[]>> letters = readCommittedRecords(kafka, deadLetterTopic);
        Map<String, Integer> seen = new HashMap<>();
        java.util.Set<String> origins = new java.util.HashSet<>();
        for (ConsumerRecord<byte[], byte[]> r : letters) {
            seen.merge(header(r, "poison"), 1, Integer::sum);
            origins.add(header(r, io.onceflow.kafka.source.DeadLetter.HEADER_PREFIX + "partition") + "@" + header(r, io.onceflow.kafka.source.DeadLetter.HEADER_PREFIX + "offset"));
            org.junit.jupiter.api.Assertions.assertArrayEquals(POISON, r.value(), "the original value");
            assertEquals("test", header(r, "origin"), "the original headers");
            assertEquals(input, header(r, io.onceflow.kafka.source.DeadLetter.HEADER_PREFIX + "topic"));
            assertEquals("input", header(r, io.onceflow.kafka.source.DeadLetter.HEADER_PREFIX + "operator"));
            org.junit.jupiter.api.Assertions.assertTrue(header(r, io.onceflow.kafka.source.DeadLetter.HEADER_PREFIX + "exception.class").contains("MalformedInput"),
                    header(r, io.onceflow.kafka.source.DeadLetter.HEADER_PREFIX + "exception.class"));
            org.junit.jupiter.api.Assertions.assertTrue(header(r, io.onceflow.kafka.source.DeadLetter.HEADER_PREFIX + "job") != null);
        }
        assertEquals(poisonKeys.keySet(), seen.keySet(), "every poison record is in the dead-letter topic");
        assertEquals(poisonKeys, seen, "each copy on the input once, none twice");
        assertEquals(letters.size(), origins.size(), "each from its own partition and offset");
    }
}
