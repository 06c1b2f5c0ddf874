package io.onceflow.kafka.testing;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Input for a test of an exactly-once job, written so that the test can rely on it, and read back so that
 * the test expects what the input topic really holds.
 *
 * <p>A test that counts what it meant to write, and not what the broker took, reports lines that never
 * became input as output the job lost. So:
 * <ul>
 *   <li>{@link #send} never loses a record: one that fails (the broker was killed, paused, or slow to
 *       answer) is sent again at the next {@link #flush}, until it is on the broker or the flush times
 *       out with an error that says how many records are missing;</li>
 *   <li>the producer is <em>not</em> idempotent ({@code acks=all}, one request in flight): a broker that
 *       was just killed or stalled has been seen to reject a fresh idempotent producer's batches as out of
 *       sequence, or leave them unanswered, until they expire. A record sent twice is only more input;</li>
 *   <li>so the expected result comes from {@link #readAll}: what the topic holds, read back after the
 *       last flush.</li>
 * </ul>
 */
public final class TestInput implements AutoCloseable {
    /** How long {@link #flush()} and {@link #close()} keep sending failed records again. */
    public static final Duration DEFAULT_FLUSH_TIMEOUT = Duration.ofMinutes(5);

    private final KafkaProducer<byte[], byte[]> producer;
    private final ConcurrentLinkedQueue<ProducerRecord<byte[], byte[]>> failed = new ConcurrentLinkedQueue<>();
    private final AtomicLong resent = new AtomicLong();
    private final AtomicReference<Exception> lastFailure = new AtomicReference<>();

    private TestInput(String bootstrapServers) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "false");
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "1");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "60000");
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "20000");
        this.producer = new KafkaProducer<>(p);
    }

    /** A writer of test input to the cluster at {@code bootstrapServers}. */
    public static TestInput to(String bootstrapServers) {
        return new TestInput(bootstrapServers);
    }

    /** Sends a value without a key, UTF-8 encoded. */
    public void send(String topic, String value) {
        send(new ProducerRecord<>(topic, null, value.getBytes(StandardCharsets.UTF_8)));
    }

    /** Sends a value without a key. */
    public void send(String topic, byte[] value) {
        send(new ProducerRecord<>(topic, null, value));
    }

    /** Sends a record; if the broker does not take it, the next {@link #flush} sends it again. */
    public void send(ProducerRecord<byte[], byte[]> record) {
        producer.send(record, (metadata, e) -> {
            if (e != null) {
                lastFailure.set(e);
                failed.add(record);
            }
        });
    }

    /** {@link #flush(Duration)} with {@link #DEFAULT_FLUSH_TIMEOUT}. */
    public void flush() {
        flush(DEFAULT_FLUSH_TIMEOUT);
    }

    /**
     * Returns once every record sent so far is on the broker, sending those that failed again.
     *
     * @throws IllegalStateException if some are still not on the broker after {@code timeout}, naming how
     *         many and the last failure
     */
    public void flush(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        producer.flush();
        while (!failed.isEmpty()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(String.format(Locale.ROOT,
                        "%d input records could not be written to the broker within %d s; last failure: %s",
                        failed.size(), timeout.toSeconds(), lastFailure.get()), lastFailure.get());
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while writing test input", e);
            }
            List<ProducerRecord<byte[], byte[]>> again = new ArrayList<>();
            for (ProducerRecord<byte[], byte[]> r; (r = failed.poll()) != null; ) {
                again.add(r);
            }
            resent.addAndGet(again.size());
            again.forEach(this::send);
            producer.flush();
        }
    }

    /** How many sends failed and were made again (each may have landed twice). */
    public long resent() {
        return resent.get();
    }

    /** The last failure of a send, or null if none failed. */
    public Exception lastFailure() {
        return lastFailure.get();
    }

    /** Flushes ({@link #DEFAULT_FLUSH_TIMEOUT}), then closes the producer. */
    @Override
    public void close() {
        try {
            flush();
        } finally {
            producer.close(Duration.ofSeconds(30));
        }
    }

    /**
     * Every record of {@code topic} below its current end (its last stable offset: open transactions' and
     * aborted records are not read), all partitions in turn.
     *
     * @throws IllegalStateException if the topic does not exist or cannot be read to its end in {@code timeout}
     */
    public static List<ConsumerRecord<byte[], byte[]>> readAll(String bootstrapServers, String topic, Duration timeout) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        long deadline = System.nanoTime() + timeout.toNanos();
        List<ConsumerRecord<byte[], byte[]>> records = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
            List<PartitionInfo> infos = consumer.partitionsFor(topic, timeout);
            if (infos == null || infos.isEmpty()) {
                throw new IllegalStateException("topic " + topic + " does not exist");
            }
            List<TopicPartition> partitions = infos.stream().map(i -> new TopicPartition(topic, i.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions, timeout);
            while (partitions.stream().anyMatch(tp -> consumer.position(tp, timeout) < end.get(tp))) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("could not read " + topic + " to its end offsets " + end + " within "
                            + timeout.toSeconds() + " s; read " + records.size() + " records");
                }
                consumer.poll(Duration.ofMillis(200)).forEach(records::add);
            }
        }
        return records;
    }

    /**
     * The words of the values that are UTF-8 text (split on white space), with their number of
     * occurrences; values that are not UTF-8 are left out (see {@link #isUtf8}).
     */
    public static Map<String, Long> wordCounts(List<ConsumerRecord<byte[], byte[]>> records) {
        Map<String, Long> counts = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : records) {
            if (r.value() == null || !isUtf8(r.value())) {
                continue;
            }
            for (String word : new String(r.value(), StandardCharsets.UTF_8).split("\\s+")) {
                if (!word.isEmpty()) {
                    counts.merge(word, 1L, Long::sum);
                }
            }
        }
        return counts;
    }

    /** Whether {@code bytes} decode as UTF-8 without a malformed or unmappable sequence. */
    public static boolean isUtf8(byte[] bytes) {
        try {
            StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes));
            return true;
        } catch (CharacterCodingException e) {
            return false;
        }
    }
}
