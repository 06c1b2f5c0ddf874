package io.onceflow.benchmarks;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The floor: the word count as a hand-written kafka-clients loop in one thread (a running count needs
 * every occurrence of a word in one place, and a raw loop has no shuffle), counts in a {@code HashMap},
 * no checkpoints of its state. Two modes:
 * <ul>
 * <li>{@code at-least-once}: flush the producer, then commit the input offsets, every interval;</li>
 * <li>{@code transactional}: the output and the input offsets ({@code sendOffsetsToTransaction}) in one
 * transaction committed every interval, the cost floor of Kafka transactions.</li>
 * </ul>
 * Neither survives a crash exactly (the counts are not restored); they measure what the broker work
 * costs. Started again on the same run name after a crash, a loop resumes at the input offsets it committed and
 * commits its first transaction (or offsets) as soon as it has sent a record, as Onceflow's first checkpoint after
 * a restore comes at the first record: the benchmark's recovery phase times that restart as the floor of any
 * transactional process's cold start, with counts that start again from zero. Runs until killed. Arguments:
 * mode, bootstrap servers, input topic, output topic, run name, interval ms.
 */
public final class RawLoop {

    private RawLoop() {
    }

    public static void main(String[] args) {
        boolean transactional = args[0].equals("transactional");
        String bootstrap = args[1];
        String input = args[2];
        String output = args[3];
        String run = args[4];
        long intervalNanos = Duration.ofMillis(Long.parseLong(args[5])).toNanos();

        Properties c = new Properties();
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        c.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        c.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        c.put(ConsumerConfig.GROUP_ID_CONFIG, run);
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        if (transactional) {
            p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, run);
        }
        Map<String, Long> counts = new HashMap<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(c);
             KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            List<TopicPartition> partitions = new ArrayList<>();
            consumer.partitionsFor(input).forEach(pi -> partitions.add(new TopicPartition(input, pi.partition())));
            consumer.assign(partitions);
            if (transactional) {
                // first, so that the killed process's open transaction is aborted: until it ends, the offsets it
                // would commit are unstable and the consumer's read of the committed ones waits for it
                producer.initTransactions();
                producer.beginTransaction();
            }
            // resumed at committed offsets: the first transaction commits at the first record
            boolean commitAtFirstRecord = false;
            Map<TopicPartition, OffsetAndMetadata> committed = consumer.committed(Set.copyOf(partitions));
            for (TopicPartition tp : partitions) {
                OffsetAndMetadata at = committed.get(tp);
                if (at != null) {
                    consumer.seek(tp, at);
                    commitAtFirstRecord = true;
                } else {
                    consumer.seekToBeginning(List.of(tp));
                }
            }
            long lastCommit = System.nanoTime();
            while (true) {
                ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(100));
                for (ConsumerRecord<String, String> r : records) {
                    FirstInput.mark();
                    FirstInput.split(r.value(), word -> producer.send(new ProducerRecord<>(output, word,
                            Long.toString(counts.merge(word, 1L, Long::sum)))));
                }
                if (commitAtFirstRecord && !records.isEmpty() || System.nanoTime() - lastCommit >= intervalNanos) {
                    commitAtFirstRecord = false;
                    Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
                    for (TopicPartition tp : partitions) {
                        offsets.put(tp, new OffsetAndMetadata(consumer.position(tp)));
                    }
                    if (transactional) {
                        producer.sendOffsetsToTransaction(offsets, consumer.groupMetadata());
                        producer.commitTransaction();
                        producer.beginTransaction();
                    } else {
                        producer.flush();
                        consumer.commitSync(offsets);
                    }
                    lastCommit = System.nanoTime();
                }
            }
        }
    }
}
