package io.onceflow.kafka.bench;

import io.onceflow.kafka.broker.KafkaBrokerLauncher;
import io.onceflow.kafka.broker.RunningKafkaBroker;
import io.onceflow.kafka.broker.Topics;
import io.onceflow.kafka.sink.SinkProducerProperties;
import io.onceflow.kafka.sink.internal.TransactionalProducer;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.SplittableRandom;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * What an exactly-once Kafka sink's send path costs per record, against a raw transactional {@code KafkaProducer}, on
 * the launcher's broker: the CPU time and the bytes allocated per record by the sending thread and by the producer's
 * network thread, read per thread ({@code ThreadMXBean}), so that the figure does not depend on what else the
 * machine runs. Three ways, each with a producer of its own and the exactly-once sink's producer settings, in turn
 * round by round on the same broker:
 * <ul>
 *   <li>raw: {@code KafkaProducer.send(record)} without a callback, as the raw transactional loop of the comparison
 *       benchmark sends (the baseline);</li>
 *   <li>raw with a callback: the same with a callback that does nothing, to tell what any per-record callback costs
 *       from what the sink's own does;</li>
 *   <li>Onceflow: {@code TransactionalProducer.send}, as the sink's writer sends: each record's acknowledgement noted
 *       (a failed record fails the pre-commit; the first offset per partition is what the barrier's
 *       hanging-transaction check compares).</li>
 * </ul>
 * Records are a running word count's output: key = a word of a 100,000-word vocabulary, value = its count as text,
 * the partition left to the producer; a transaction per {@value #RECORDS_PER_TRANSACTION} records, ended as the
 * sink ends one (flush at the pre-commit, then commit). The first round of each way is a warm-up, not counted.
 *
 * <p>Run: {@code mvn -q -pl kafka-connector test-compile exec:java -Dexec.classpathScope=test
 * -Dexec.mainClass=io.onceflow.kafka.bench.SendPathBenchmark [-Dexec.args="ROUNDS RECORDS_PER_ROUND"]}
 */
public final class SendPathBenchmark {

    private static final int PARTITIONS = 4;
    private static final int VOCABULARY = 100_000;
    private static final int RECORDS_PER_TRANSACTION = 100_000;
    private static final String TOPIC = "send-path-bench";

    private SendPathBenchmark() {
    }

    /** One way of sending a transaction's records. */
    private interface Way extends AutoCloseable {
        /** Also the producer's client id after {@code send-path-}, by which its network thread is found. */
        String name();

        void begin();

        void send(ProducerRecord<byte[], byte[]> record);

        void end();

        @Override
        void close();
    }

    /** A round's figures for one way. */
    private record Round(double seconds, long records, long senderCpuNanos, long networkCpuNanos, long senderBytes,
                         long networkBytes) {
        double nanosPerRecord(long nanos) {
            return (double) nanos / records;
        }
    }

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 6;
        long records = args.length > 1 ? Long.parseLong(args[1]) : 1_000_000;
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        if (!threads.isThreadCpuTimeSupported() || !threads.isThreadAllocatedMemorySupported()) {
            throw new IllegalStateException("this JVM cannot measure a thread's CPU time or allocated bytes");
        }
        threads.setThreadCpuTimeEnabled(true);
        threads.setThreadAllocatedMemoryEnabled(true);
        System.out.printf(Locale.ROOT, "Send-path benchmark: %d rounds of %,d records per way (the first a warm-up), "
                + "%,d records per transaction, %d partitions, %d cores%n", rounds, records, RECORDS_PER_TRANSACTION,
                PARTITIONS, Runtime.getRuntime().availableProcessors());
        byte[][] words = new byte[VOCABULARY][];
        for (int i = 0; i < VOCABULARY; i++) {
            words[i] = ("w" + Integer.toString(i * 7919, 36)).getBytes(StandardCharsets.UTF_8);
        }
        try (RunningKafkaBroker broker = new KafkaBrokerLauncher().maxHeap("1g").start()) {
            Properties client = new Properties();
            client.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
            try (Admin admin = Admin.create(client)) {
                Topics.create(admin, PARTITIONS, TOPIC);
            }
            // the sink's own settings: linger, batch size, retry backoff, acks, transaction timeout
            Properties producer = SinkProducerProperties.exactlyOnce(broker.bootstrapServers(), Duration.ofMinutes(1),
                    "send-path");
            List<Way> ways = List.of(raw(producer, "raw", null), raw(producer, "raw-callback", (m, e) -> { }),
                    onceflow(producer));
            String[] names = {"raw KafkaProducer, no callback (baseline)", "raw KafkaProducer, a no-op callback",
                    "Onceflow TransactionalProducer"};
            List<List<Round>> results = new ArrayList<>();
            ways.forEach(w -> results.add(new ArrayList<>()));
            try {
                for (int r = 0; r < rounds; r++) {
                    for (int w = 0; w < ways.size(); w++) {
                        // each round in another order, so that no way always follows the same one
                        int i = Math.floorMod(w + r, ways.size());
                        Round round = run(ways.get(i), records, words, threads, new SplittableRandom(r));
                        System.out.printf(Locale.ROOT, "  round %d %-14s %.2f s, %.0f + %.0f CPU ns and %.0f + %.0f "
                                + "bytes per record (sending + network thread)%s%n", r + 1, ways.get(i).name(),
                                round.seconds(), round.nanosPerRecord(round.senderCpuNanos()),
                                round.nanosPerRecord(round.networkCpuNanos()),
                                round.nanosPerRecord(round.senderBytes()),
                                round.nanosPerRecord(round.networkBytes()), r == 0 ? " (warm-up)" : "");
                        if (r > 0) {
                            results.get(i).add(round);
                        }
                    }
                }
            } finally {
                ways.forEach(Way::close);
            }
            System.out.println();
            System.out.println("Median (min-max) of the counted rounds, per record:");
            System.out.println();
            System.out.println("| way | records/s | sending thread CPU ns | network thread CPU ns | both CPU ns "
                    + "| both ÷ baseline's | sending thread bytes | network thread bytes |");
            System.out.println("| --- | --- | --- | --- | --- | --- | --- | --- |");
            List<Round> baseline = results.get(0);
            for (int w = 0; w < ways.size(); w++) {
                List<Round> rs = results.get(w);
                double[] ratio = new double[rs.size()];
                for (int k = 0; k < rs.size(); k++) {
                    // against the baseline's run of the same round: both met the machine as it was then
                    ratio[k] = both(rs.get(k)) / both(baseline.get(k));
                }
                System.out.printf(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %s | %s |%n", names[w],
                        stat(rs.stream().mapToDouble(x -> x.records() / x.seconds()).toArray(), "%,.0f"),
                        stat(rs.stream().mapToDouble(x -> x.nanosPerRecord(x.senderCpuNanos())).toArray(), "%.0f"),
                        stat(rs.stream().mapToDouble(x -> x.nanosPerRecord(x.networkCpuNanos())).toArray(), "%.0f"),
                        stat(rs.stream().mapToDouble(SendPathBenchmark::both).toArray(), "%.0f"),
                        w == 0 ? "-" : stat(ratio, "%.2f"),
                        stat(rs.stream().mapToDouble(x -> x.nanosPerRecord(x.senderBytes())).toArray(), "%.0f"),
                        stat(rs.stream().mapToDouble(x -> x.nanosPerRecord(x.networkBytes())).toArray(), "%.0f"));
            }
        }
    }

    private static double both(Round r) {
        return r.nanosPerRecord(r.senderCpuNanos() + r.networkCpuNanos());
    }

    private static Way raw(Properties properties, String name, Callback callback) {
        Properties p = new Properties();
        p.putAll(properties);
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "send-path-" + name);
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "send-path-" + name);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p);
        producer.initTransactions();
        return new Way() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public void begin() {
                producer.beginTransaction();
            }

            @Override
            public void send(ProducerRecord<byte[], byte[]> record) {
                if (callback == null) {
                    producer.send(record);
                } else {
                    producer.send(record, callback);
                }
            }

            @Override
            public void end() {
                producer.flush();
                producer.commitTransaction();
            }

            @Override
            public void close() {
                producer.close(Duration.ofSeconds(5));
            }
        };
    }

    private static Way onceflow(Properties properties) {
        Properties p = new Properties();
        p.putAll(properties);
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "send-path-onceflow");
        TransactionalProducer producer = TransactionalProducer.create("send-path-onceflow", p);
        return new Way() {
            @Override
            public String name() {
                return "onceflow";
            }

            @Override
            public void begin() {
                producer.beginTransaction();
            }

            @Override
            public void send(ProducerRecord<byte[], byte[]> record) {
                producer.send(record);
            }

            @Override
            public void end() {
                producer.preCommit();
                producer.commitTransaction();
            }

            @Override
            public void close() {
                producer.close(Duration.ofSeconds(5));
            }
        };
    }

    private static Round run(Way way, long records, byte[][] words, com.sun.management.ThreadMXBean threads,
                             SplittableRandom random) {
        long network = networkThread("send-path-" + way.name());
        long[] counts = new long[words.length];
        long cpu0 = threads.getCurrentThreadCpuTime();
        long bytes0 = threads.getCurrentThreadAllocatedBytes();
        long netCpu0 = threads.getThreadCpuTime(network);
        long netBytes0 = threads.getThreadAllocatedBytes(network);
        long t0 = System.nanoTime();
        for (long sent = 0; sent < records; ) {
            way.begin();
            long end = Math.min(records, sent + RECORDS_PER_TRANSACTION);
            for (; sent < end; sent++) {
                int w = random.nextInt(words.length);
                byte[] value = Long.toString(++counts[w]).getBytes(StandardCharsets.UTF_8);
                way.send(new ProducerRecord<>(TOPIC, words[w], value));
            }
            way.end();
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        return new Round(seconds, records, threads.getCurrentThreadCpuTime() - cpu0,
                threads.getThreadCpuTime(network) - netCpu0, threads.getCurrentThreadAllocatedBytes() - bytes0,
                threads.getThreadAllocatedBytes(network) - netBytes0);
    }

    /** The id of the network thread of the producer with that client id. */
    private static long networkThread(String clientId) {
        String name = "kafka-producer-network-thread | " + clientId;
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().equals(name)) {
                return t.getId();
            }
        }
        throw new IllegalStateException("no thread named " + name);
    }

    private static String stat(double[] values, String format) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return String.format(Locale.ROOT, format + " (" + format + "-" + format + ")", sorted[sorted.length / 2],
                sorted[0], sorted[sorted.length - 1]);
    }
}
