package io.onceflow.kafka.bench;

import io.onceflow.kafka.broker.Topics;
import io.onceflow.api.JobClient;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.kafka.broker.KafkaBrokerLauncher;
import io.onceflow.kafka.broker.RunningKafkaBroker;
import io.onceflow.kafka.sink.DeliveryGuarantee;
import io.onceflow.kafka.sink.KafkaSink;
import io.onceflow.kafka.sink.KafkaSinkBuilder;
import io.onceflow.kafka.source.KafkaSource;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
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
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Copies records from one Kafka topic to another on the launcher's broker and prints, in one run:
 * a raw kafka-clients consume→produce copy with as many threads as Onceflow has subtasks (the limit), Onceflow AT_LEAST_ONCE, and Onceflow EXACTLY_ONCE
 * with 1 s and 100 ms checkpoints: records/s (measured between 10 % and 90 % of the copy, so start-up does
 * not count), the ratio to the raw copy, and end-to-end latency p50/p99 seen by a read_committed consumer
 * while records arrive at a steady rate.
 *
 * <p>Run: {@code mvn -q -pl kafka-connector test-compile exec:java -Dexec.classpathScope=test
 * -Dexec.mainClass=io.onceflow.kafka.bench.KafkaCopyBenchmark [-Dexec.args="2000000"]}
 */
public final class KafkaCopyBenchmark {

    private static final int PARTITIONS = 4;
    private static final int PARALLELISM = 2;
    private static final int RECORD_BYTES = 100;
    private static final int LATENCY_RATE = 20_000;
    private static final int LATENCY_SECONDS = 8;

    private KafkaCopyBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int records = args.length > 0 ? Integer.parseInt(args[0]) : 2_000_000;
        System.out.printf(Locale.ROOT, "Kafka copy benchmark: %,d records of %d bytes, %d partitions, %d cores%n",
                records, RECORD_BYTES, PARTITIONS, Runtime.getRuntime().availableProcessors());
        try (RunningKafkaBroker broker = new KafkaBrokerLauncher().maxHeap("1g").start()) {
            String bootstrap = broker.bootstrapServers();
            createTopic(bootstrap, "bench-in");
            long t = System.nanoTime();
            fill(bootstrap, "bench-in", records);
            System.out.printf(Locale.ROOT, "wrote the input in %.1f s%n", (System.nanoTime() - t) / 1e9);

            Object[][] configs = {
                    {"onceflow AT_LEAST_ONCE 1 s", DeliveryGuarantee.AT_LEAST_ONCE, Duration.ofSeconds(1)},
                    {"onceflow EXACTLY_ONCE 1 s", DeliveryGuarantee.EXACTLY_ONCE, Duration.ofSeconds(1)},
                    {"onceflow EXACTLY_ONCE 100 ms", DeliveryGuarantee.EXACTLY_ONCE, Duration.ofMillis(100)}};
            // throughput: every configuration twice, interleaved, best of two (the broker shares the cores)
            double raw = 0;
            double[] best = new double[configs.length];
            for (int round = 0; round < 2; round++) {
                raw = Math.max(raw, rawCopy(bootstrap, records, round));
                for (int c = 0; c < configs.length; c++) {
                    best[c] = Math.max(best[c], onceflowCopy(bootstrap, records, (DeliveryGuarantee) configs[c][1],
                            (Duration) configs[c][2], round));
                }
            }
            List<String[]> rows = new ArrayList<>();
            rows.add(row("raw kafka-clients copy", raw, raw, latency(bootstrap, "raw", null, null)));
            for (int c = 0; c < configs.length; c++) {
                rows.add(row((String) configs[c][0], best[c], raw, latency(bootstrap, (String) configs[c][0],
                        (DeliveryGuarantee) configs[c][1], (Duration) configs[c][2])));
            }
            System.out.println();
            System.out.printf(Locale.ROOT, "%-30s %14s %9s %14s %14s%n", "configuration", "records/s", "vs raw",
                    "latency p50", "latency p99");
            for (String[] r : rows) {
                System.out.printf(Locale.ROOT, "%-30s %14s %9s %14s %14s%n", (Object[]) r);
            }
            System.out.printf(Locale.ROOT, "(throughput: best of 2, between 10%% and 90%% of a %,d-record copy; latency from produce "
                    + "to visible to a read_committed consumer at %,d records/s for %d s)%n", records, LATENCY_RATE,
                    LATENCY_SECONDS);
        }
    }

    private static String[] row(String name, double rate, double raw, String[] latency) {
        return new String[] {name, String.format(Locale.ROOT, "%,.0f", rate),
                String.format(Locale.ROOT, "%.1f%%", 100 * rate / raw), latency[0], latency[1]};
    }

    private static Properties props(String bootstrap) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        return p;
    }

    private static void createTopic(String bootstrap, String topic) throws Exception {
        Properties p = props(bootstrap);
        try (Admin admin = Admin.create(p)) {
            Topics.create(admin, PARTITIONS, topic);
        }
    }

    private static KafkaProducer<byte[], byte[]> producer(String bootstrap) {
        Properties p = props(bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, Integer.toString(128 * 1024));
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        return new KafkaProducer<>(p);
    }

    private static KafkaConsumer<byte[], byte[]> consumer(String bootstrap) {
        Properties p = props(bootstrap);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "2000");
        return new KafkaConsumer<>(p);
    }

    private static byte[] value(long timestamp) {
        return ByteBuffer.allocate(RECORD_BYTES).putLong(timestamp).array();
    }

    private static void fill(String bootstrap, String topic, int records) {
        try (KafkaProducer<byte[], byte[]> producer = producer(bootstrap)) {
            for (int i = 0; i < records; i++) {
                producer.send(new ProducerRecord<>(topic, i % PARTITIONS, null, value(0)));
            }
        }
    }

    private static List<TopicPartition> partitions(String topic) {
        List<TopicPartition> tps = new ArrayList<>();
        for (int i = 0; i < PARTITIONS; i++) {
            tps.add(new TopicPartition(topic, i));
        }
        return tps;
    }

    /** Committed records in a topic (the sum of its last stable offsets). */
    private static long committed(Admin admin, String topic) throws Exception {
        Map<TopicPartition, OffsetSpec> request = new HashMap<>();
        partitions(topic).forEach(tp -> request.put(tp, OffsetSpec.latest()));
        return admin.listOffsets(request, new ListOffsetsOptions(IsolationLevel.READ_COMMITTED)).all()
                .get(30, TimeUnit.SECONDS).values().stream().mapToLong(i -> i.offset()).sum();
    }

    /** Watches the committed size of {@code topic} until it reaches {@code records}; returns records/s from 10 % to 90 %. */
    private static double watch(String bootstrap, String topic, int records, long transactionMarkersPerRecord)
            throws Exception {
        Properties p = props(bootstrap);
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        long t10 = 0;
        long t90 = 0;
        double c10 = 0;
        double c90 = 0;
        try (Admin admin = Admin.create(p)) {
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
            while (System.nanoTime() < deadline) {
                long c = committed(admin, topic);
                long now = System.nanoTime();
                if (t10 == 0 && c >= records * 0.1) {
                    t10 = now;
                    c10 = c;
                }
                if (c >= records * 0.9) {
                    t90 = now;
                    c90 = c;
                    break;
                }
                Thread.sleep(50);
            }
        }
        return (c90 - c10) / ((t90 - t10) / 1e9);
    }

    /** The limit: for each pair of partitions, one thread with a plain consumer and producer, as many as Onceflow's subtasks. */
    private static double rawCopy(String bootstrap, int records, int round) throws Exception {
        String output = "raw-out-" + round;
        createTopic(bootstrap, output);
        AtomicBoolean done = new AtomicBoolean();
        List<Thread> copiers = new ArrayList<>();
        List<TopicPartition> all = partitions("bench-in");
        for (int t = 0; t < PARALLELISM; t++) {
            List<TopicPartition> mine = new ArrayList<>();
            for (int i = t; i < all.size(); i += PARALLELISM) {
                mine.add(all.get(i));
            }
            Thread copier = new Thread(() -> {
                try (KafkaConsumer<byte[], byte[]> c = consumer(bootstrap); KafkaProducer<byte[], byte[]> p = producer(bootstrap)) {
                    c.assign(mine);
                    c.seekToBeginning(mine);
                    long end = records / PARTITIONS * mine.size();
                    long copied = 0;
                    while (copied < end && !done.get()) {
                        for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(100))) {
                            p.send(new ProducerRecord<>(output, r.partition(), null, r.value()));
                            copied++;
                        }
                    }
                    p.flush();
                }
            }, "raw copy " + t);
            copier.start();
            copiers.add(copier);
        }
        double rate = watch(bootstrap, output, records, 0);
        for (Thread c : copiers) {
            c.join();
        }
        System.out.printf(Locale.ROOT, "  raw kafka-clients copy          %,12.0f records/s%n", rate);
        return rate;
    }

    private static StreamEnvironment copyJob(String bootstrap, String input, String output, DeliveryGuarantee g,
                                             Duration interval, boolean bounded, String prefix) {
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(PARALLELISM);
        env.enableCheckpointing(interval);
        env.getCheckpointConfig().setCheckpointStorage("memory:"); // repeats output only after a process restart
        env.getCheckpointConfig().setCheckpointTimeout(Duration.ofMinutes(1));
        var source = KafkaSource.<byte[]>builder().setBootstrapServers(bootstrap).setTopics(input)
                .setDeserializer(r -> r.value());
        if (bounded) {
            source.setBounded();
        }
        KafkaSinkBuilder<byte[]> sink = KafkaSink.<byte[]>builder().setBootstrapServers(bootstrap)
                .setRecordSerializer(v -> new ProducerRecord<>(output, v)).setDeliveryGuarantee(g);
        if (g == DeliveryGuarantee.EXACTLY_ONCE) {
            sink.setTransactionalIdPrefix(prefix);
        }
        env.fromSource(source.build(), "in").uid("in").sinkTo(sink.build()).uid("out");
        return env;
    }

    private static double onceflowCopy(String bootstrap, int records, DeliveryGuarantee g, Duration interval, int round)
            throws Exception {
        String output = "out-" + g + "-" + interval.toMillis() + "-" + round;
        createTopic(bootstrap, output);
        JobClient job = copyJob(bootstrap, "bench-in", output, g, interval, true, "bench-" + output).executeAsync(output);
        double rate = watch(bootstrap, output, records, 0);
        job.awaitTermination(Duration.ofMinutes(5));
        System.out.printf(Locale.ROOT, "  %-30s %,12.0f records/s, %d checkpoints%n", g + " " + interval.toMillis() + " ms",
                rate, job.getMetrics().numberOfCompletedCheckpoints());
        return rate;
    }

    /** Produces timestamped records at a steady rate through the copy and measures produce → visible. */
    private static String[] latency(String bootstrap, String name, DeliveryGuarantee g, Duration interval) throws Exception {
        String suffix = name.replaceAll("[^A-Za-z0-9]", "");
        String input = "lat-in-" + suffix;
        String output = "lat-out-" + suffix;
        createTopic(bootstrap, input);
        createTopic(bootstrap, output);
        AtomicBoolean stop = new AtomicBoolean();
        Thread copier = null;
        JobClient job = null;
        if (g == null) {
            copier = new Thread(() -> {
                try (KafkaConsumer<byte[], byte[]> c = consumer(bootstrap); KafkaProducer<byte[], byte[]> p = producer(bootstrap)) {
                    c.assign(partitions(input));
                    while (!stop.get()) {
                        for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(50))) {
                            p.send(new ProducerRecord<>(output, r.partition(), null, r.value()));
                        }
                    }
                }
            }, "raw latency copy");
            copier.start();
        } else {
            job = copyJob(bootstrap, input, output, g, interval, false, "lat-" + suffix).executeAsync("lat-" + suffix);
        }
        Thread.sleep(3000);
        List<Long> latencies = new ArrayList<>();
        Thread reader = new Thread(() -> {
            try (KafkaConsumer<byte[], byte[]> c = consumer(bootstrap)) {
                c.assign(partitions(output));
                c.seekToBeginning(partitions(output));
                long end = System.currentTimeMillis() + (LATENCY_SECONDS + 5) * 1000L;
                while (System.currentTimeMillis() < end) {
                    for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(20))) {
                        long sent = ByteBuffer.wrap(r.value()).getLong();
                        if (sent > 0) {
                            latencies.add(System.currentTimeMillis() - sent);
                        }
                    }
                }
            }
        }, "latency reader");
        reader.start();
        try (KafkaProducer<byte[], byte[]> producer = producer(bootstrap)) {
            long start = System.nanoTime();
            long sent = 0;
            while (System.nanoTime() - start < TimeUnit.SECONDS.toNanos(LATENCY_SECONDS)) {
                long due = (System.nanoTime() - start) * LATENCY_RATE / 1_000_000_000L;
                while (sent < due) {
                    producer.send(new ProducerRecord<>(input, (int) (sent % PARTITIONS), null, value(System.currentTimeMillis())));
                    sent++;
                }
                Thread.sleep(1);
            }
        }
        reader.join();
        stop.set(true);
        if (copier != null) {
            copier.join();
        }
        if (job != null) {
            job.cancel();
            job.awaitTermination(Duration.ofMinutes(1));
        }
        latencies.sort(Long::compare);
        if (latencies.isEmpty()) {
            return new String[] {"-", "-"};
        }
        return new String[] {latencies.get(latencies.size() / 2) + " ms",
                latencies.get(Math.min(latencies.size() - 1, (int) (latencies.size() * 0.99))) + " ms"};
    }
}
