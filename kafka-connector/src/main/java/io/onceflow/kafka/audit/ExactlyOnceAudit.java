package io.onceflow.kafka.audit;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Checks an output topic from outside the job, as a downstream consumer sees it: reads it from the
 * beginning with {@code isolation.level=read_committed}, up to its last stable offsets, and checks a
 * per-key sequence. Every record's key is a name (UTF-8) and its value a number (decimal UTF-8 text);
 * for each key the values must be exactly {@code 1, 2, …, n}:
 * <ul>
 * <li>without an expectation, {@code n} is the highest value seen, and a value seen twice is a
 * <em>duplicate</em>, a value below {@code n} never seen a <em>gap</em>;</li>
 * <li>with one ({@code key → n}, such as the number of times each word occurs in the input), a value
 * never seen up to {@code n} is a gap (lost), one above {@code n} or of an unknown key is
 * <em>unexpected</em>.</li>
 * </ul>
 * A running count per key (the word count's output) is such a sequence, and so is any stream a
 * producer numbers per key. The report also gives, per partition, how far the last stable offset is
 * behind the log end: a lag that stays is a transaction left open, which holds back every
 * read_committed consumer (see {@link TransactionProbe}).
 */
public final class ExactlyOnceAudit {

    private static final long TIMEOUT_SECONDS = 30;

    private ExactlyOnceAudit() {
    }

    /** One partition's log end and last stable offset; {@code lag} counts records and markers not yet stable. */
    public record PartitionLag(TopicPartition partition, long logEndOffset, long lastStableOffset) {
        public long lag() {
            return logEndOffset - lastStableOffset;
        }
    }

    /** What the audit found. */
    public record Report(String topic, long records, long keys, long duplicates, long gaps, long unexpected,
                         long malformed, List<String> examples, List<PartitionLag> partitions) {
        /** No duplicates, no gaps, nothing unexpected or malformed. */
        public boolean exact() {
            return duplicates == 0 && gaps == 0 && unexpected == 0 && malformed == 0;
        }

        @Override
        public String toString() {
            return topic + ": " + records + " records over " + keys + " keys: " + duplicates + " duplicate(s), " + gaps
                    + " gap(s), " + unexpected + " unexpected, " + malformed + " malformed"
                    + (examples.isEmpty() ? "" : "; e.g. " + examples);
        }
    }

    /**
     * Audits {@code topic}.
     *
     * @param client   client properties: at least {@code bootstrap.servers} (security settings too, if any)
     * @param expected the expected {@code n} per key, or null to take the highest value seen per key
     * @param timeout  how long reading to the last stable offsets may take
     * @throws IllegalStateException naming the topic when it cannot be read
     */
    public static Report verify(Properties client, String topic, Map<String, Long> expected, Duration timeout) {
        Map<TopicPartition, Long> stable = new HashMap<>();
        List<PartitionLag> lags = new ArrayList<>();
        try (Admin admin = Admin.create(adminProperties(client))) {
            var description = admin.describeTopics(List.of(topic)).allTopicNames().get(TIMEOUT_SECONDS, TimeUnit.SECONDS)
                    .get(topic);
            Map<TopicPartition, OffsetSpec> request = new HashMap<>();
            description.partitions().forEach(pi -> request.put(new TopicPartition(topic, pi.partition()), OffsetSpec.latest()));
            Map<TopicPartition, Long> ends = new HashMap<>();
            admin.listOffsets(request).all().get(TIMEOUT_SECONDS, TimeUnit.SECONDS)
                    .forEach((tp, info) -> ends.put(tp, info.offset()));
            admin.listOffsets(request, new ListOffsetsOptions(IsolationLevel.READ_COMMITTED)).all()
                    .get(TIMEOUT_SECONDS, TimeUnit.SECONDS).forEach((tp, info) -> stable.put(tp, info.offset()));
            ends.forEach((tp, end) -> lags.add(new PartitionLag(tp, end, stable.get(tp))));
            lags.sort(Comparator.comparingInt(l -> l.partition().partition()));
        } catch (ExecutionException e) {
            throw new IllegalStateException("Cannot read topic '" + topic + "': " + e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("The brokers did not answer within " + TIMEOUT_SECONDS + " s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }

        Sequences sequences = new Sequences();
        Properties p = new Properties();
        p.putAll(client);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.remove(ConsumerConfig.GROUP_ID_CONFIG);
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
            consumer.assign(stable.keySet());
            consumer.seekToBeginning(stable.keySet());
            long deadline = System.nanoTime() + timeout.toNanos();
            while (stable.entrySet().stream().anyMatch(e -> consumer.position(e.getKey()) < e.getValue())) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("Reading '" + topic + "' to its last stable offsets " + stable
                            + " took longer than " + timeout.toSeconds() + " s");
                }
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    if (r.offset() < stable.get(new TopicPartition(r.topic(), r.partition()))) {
                        sequences.add(r);
                    }
                }
            }
        }
        return sequences.report(topic, expected, lags);
    }

    /** {@code bootstrap.servers} and the security settings of {@code client}, for an Admin client. */
    static Properties adminProperties(Properties client) {
        Properties a = new Properties();
        for (String key : client.stringPropertyNames()) {
            if (key.equals(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG) || key.startsWith("security.")
                    || key.startsWith("sasl.") || key.startsWith("ssl.") || key.equals("client.dns.lookup")) {
                a.put(key, client.getProperty(key));
            }
        }
        a.putIfAbsent(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
        return a;
    }

    /** The values seen per key: a bit per value, plus counts of repeats. */
    private static final class Sequences {
        final Map<String, BitSet> seen = new HashMap<>();
        final Map<String, Long> highest = new HashMap<>();
        final Map<String, Long> repeats = new TreeMap<>();
        long records;
        long malformed;
        long tooLarge;
        final List<String> examples = new ArrayList<>();

        void add(ConsumerRecord<byte[], byte[]> r) {
            records++;
            String key = r.key() == null ? "" : new String(r.key(), StandardCharsets.UTF_8);
            long value;
            try {
                value = Long.parseLong(r.value() == null ? "" : new String(r.value(), StandardCharsets.UTF_8).trim());
            } catch (NumberFormatException e) {
                malformed++;
                example("malformed value at " + r.topic() + "-" + r.partition() + "@" + r.offset());
                return;
            }
            if (value < 1 || value > Integer.MAX_VALUE) {
                tooLarge++;
                example("value " + value + " of key '" + key + "' outside 1.." + Integer.MAX_VALUE);
                return;
            }
            BitSet bits = seen.computeIfAbsent(key, k -> new BitSet());
            if (bits.get((int) value)) {
                repeats.merge(key + "=" + value, 1L, Long::sum);
            } else {
                bits.set((int) value);
            }
            highest.merge(key, value, Math::max);
        }

        void example(String s) {
            if (examples.size() < 10) {
                examples.add(s);
            }
        }

        Report report(String topic, Map<String, Long> expected, List<PartitionLag> lags) {
            long duplicates = 0;
            for (Map.Entry<String, Long> e : repeats.entrySet()) {
                duplicates += e.getValue();
                example("duplicate " + e.getKey() + " (x" + (e.getValue() + 1) + ")");
            }
            long gaps = 0;
            long unexpected = tooLarge;
            Map<String, Long> wanted = expected != null ? expected : highest;
            for (Map.Entry<String, Long> e : new TreeMap<>(wanted).entrySet()) {
                BitSet bits = seen.getOrDefault(e.getKey(), new BitSet());
                int n = (int) Math.min(e.getValue(), Integer.MAX_VALUE);
                int present = bits.get(1, n + 1).cardinality();
                if (present < n) {
                    gaps += n - present;
                    example("gap in " + e.getKey() + ": " + (n - present) + " of 1.." + n + " missing, first "
                            + bits.nextClearBit(1));
                }
            }
            if (expected != null) {
                for (Map.Entry<String, BitSet> e : seen.entrySet()) {
                    Long n = expected.get(e.getKey());
                    long beyond = n == null ? e.getValue().cardinality()
                            : e.getValue().get((int) Math.min(n + 1, Integer.MAX_VALUE), Integer.MAX_VALUE).cardinality();
                    if (beyond > 0) {
                        unexpected += beyond;
                        example(n == null ? "unexpected key '" + e.getKey() + "'"
                                : "unexpected values of " + e.getKey() + " above " + n);
                    }
                }
            }
            return new Report(topic, records, seen.size(), duplicates, gaps, unexpected, malformed, List.copyOf(examples),
                    List.copyOf(lags));
        }
    }
}
