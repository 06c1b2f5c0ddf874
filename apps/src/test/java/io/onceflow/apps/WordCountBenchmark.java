package io.onceflow.apps;

import io.onceflow.kafka.broker.Topics;
import com.sun.management.OperatingSystemMXBean;
import io.onceflow.api.CheckpointStats;
import io.onceflow.api.HeapStateBackend;
import io.onceflow.api.JobClient;
import io.onceflow.api.RocksDBStateBackend;
import io.onceflow.api.StateBackend;
import io.onceflow.kafka.audit.ExactlyOnceAudit;
import io.onceflow.kafka.broker.KafkaBrokerLauncher;
import io.onceflow.kafka.broker.RunningKafkaBroker;
import io.onceflow.kafka.sink.DeliveryGuarantee;
import io.onceflow.kafka.source.OffsetOutOfRangePolicy;
import io.onceflow.testing.ChildJvm;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The word count over Kafka with millions of distinct words, end to end on the launcher's broker, each
 * system in its own JVM, each output checked exact by {@link ExactlyOnceAudit}:
 * <ul>
 * <li>the baseline, a raw transactional kafka-clients loop: one thread, the counts in a {@code HashMap},
 * a transaction (with the input offsets) committed every second, no checkpoints of its state;</li>
 * <li>the {@code wordcount} pipeline, EXACTLY_ONCE, 1 s checkpoints, parallelism 2, with the heap state
 * backend (incremental checkpoints, the default, and full ones) and with the RocksDB state backend.</li>
 * </ul>
 * Prints, per system: total time (JVM start to the last commit), CPU time, peak RSS, checkpoints and
 * the last checkpoint's full and incremental size, and the longest task-thread pause.
 *
 * <p>Run (after {@code mvn -q -B install -DskipTests}): {@code mvn -q -pl apps exec:java
 * -Dexec.classpathScope=test -Dexec.mainClass=io.onceflow.apps.WordCountBenchmark [-Dexec.args="LINES VOCABULARY"]};
 * the default, 2,000,000 lines of 3 to 6 words drawn from 4,200,000, gives about 9 million words of which
 * about 3.7 million are distinct.
 */
public final class WordCountBenchmark {

    private static final int PARTITIONS = 4;
    private static final String INPUT = "wc-bench-in";

    private WordCountBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("child")) {
            child(args);
            return;
        }
        int lines = args.length > 0 ? Integer.parseInt(args[0]) : 2_000_000;
        int vocabulary = args.length > 1 ? Integer.parseInt(args[1]) : 4_200_000;
        try (RunningKafkaBroker broker = new KafkaBrokerLauncher().maxHeap("1g").start()) {
            String bootstrap = broker.bootstrapServers();
            createTopic(bootstrap, INPUT);
            long t = System.nanoTime();
            Map<String, Long> expected = fill(bootstrap, lines, vocabulary);
            long words = expected.values().stream().mapToLong(Long::longValue).sum();
            System.out.printf(Locale.ROOT, "Word count benchmark: %,d lines, %,d words, %,d distinct, %d partitions, "
                            + "%d cores (input written in %.1f s)%n", lines, words, expected.size(), PARTITIONS,
                    Runtime.getRuntime().availableProcessors(), (System.nanoTime() - t) / 1e9);

            List<String> rows = new ArrayList<>();
            double raw = 0;
            for (String system : System.getProperty("wc.systems", "raw,heap,heap-full,rocksdb").split(",")) {
                String output = "wc-bench-out-" + system;
                createTopic(bootstrap, output);
                String[] r = runChild(system, bootstrap, output);
                ExactlyOnceAudit.Report audit = ExactlyOnceAudit.verify(client(bootstrap), output, expected,
                        Duration.ofMinutes(10));
                double seconds = Double.parseDouble(r[0]);
                if (system.equals("raw") || raw == 0) {
                    raw = seconds;
                }
                System.out.printf(Locale.ROOT, "  %s: %s%n    audit: %s%n", system, String.join(" ", r), audit);
                rows.add(String.format(Locale.ROOT, "%-34s %8.1f %8.2f %8.1f %9d %6s %11s %11s %10s %6s",
                        name(system), seconds, seconds / raw, Double.parseDouble(r[1]), Long.parseLong(r[2]) / 1024,
                        r[3].equals("-") ? "-" : r[3], megabytes(r[4]), megabytes(r[5]),
                        r[6].equals("-") ? "-" : String.format(Locale.ROOT, "%.1f", Long.parseLong(r[6]) / 1000.0),
                        audit.exact() && audit.records() == words ? "yes" : "NO"));
            }
            System.out.println();
            System.out.printf(Locale.ROOT, "%-34s %8s %8s %8s %9s %6s %11s %11s %10s %6s%n", "system", "total s",
                    "vs raw", "CPU s", "RSS MB", "chks", "full MB", "incr MB", "pause ms", "exact");
            rows.forEach(System.out::println);
            System.out.println("(total = JVM start to the last commit; full/incr = the last checkpoint, all of it and "
                    + "what it wrote itself; pause = the longest synchronous checkpoint part of a task thread, which here includes the Kafka sink "
                    + "flushing its transaction before the pre-commit; exact = "
                    + "a read_committed audit found every word's counts 1..n once and nothing else)");
        }
    }

    private static String name(String system) {
        return switch (system) {
            case "raw" -> "raw transactional loop (1 thread)";
            case "heap" -> "onceflow EXACTLY_ONCE, heap";
            case "heap-full" -> "onceflow EXACTLY_ONCE, heap, full chks";
            default -> "onceflow EXACTLY_ONCE, rocksdb";
        };
    }

    private static String megabytes(String bytes) {
        return bytes.equals("-") ? "-" : String.format(Locale.ROOT, "%.1f", Long.parseLong(bytes) / 1e6);
    }

    private static Properties client(String bootstrap) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        return p;
    }

    private static void createTopic(String bootstrap, String topic) throws Exception {
        try (Admin admin = Admin.create(client(bootstrap))) {
            Topics.create(admin, PARTITIONS, topic);
        }
    }

    /** Writes the lines; returns how often each word occurs. */
    private static Map<String, Long> fill(String bootstrap, int lines, int vocabulary) {
        Properties p = client(bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, Integer.toString(128 * 1024));
        io.onceflow.testing.RandomLines text = new io.onceflow.testing.RandomLines(vocabulary, 42);
        try (KafkaProducer<byte[], String> producer = new KafkaProducer<>(p)) {
            for (int i = 0; i < lines; i++) {
                producer.send(new ProducerRecord<>(INPUT, i % PARTITIONS, null, text.next()));
            }
        }
        return text.counts();
    }

    /** Runs one system in a child JVM; returns seconds, CPU seconds, peak RSS kB, checkpoints, full, incremental, pause µs. */
    private static String[] runChild(String system, String bootstrap, String output) throws Exception {
        Path dir = Files.createTempDirectory("onceflow-wc-bench-");
        try {
            List<String> jvm = new ArrayList<>(List.of("-Dwc.interval=" + Long.getLong("wc.interval", 1000)));
            // e.g. -Dwc.jvmOptions="-XX:StartFlightRecording=filename=wc.jfr" to profile the systems
            String extra = System.getProperty("wc.jvmOptions", "").trim();
            if (!extra.isEmpty()) {
                jvm.addAll(List.of(extra.split("\\s+")));
            }
            Process p = ChildJvm.of(WordCountBenchmark.class, jvm, "child", system, bootstrap, output, dir.toString())
                    .redirectErrorStream(true).start();
            String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor(30, TimeUnit.MINUTES);
            text.lines().filter(l -> l.startsWith("THREADCPU ")).forEach(l -> System.out.println("    " + system + " " + l));
            String result = text.lines().filter(l -> l.startsWith("RESULT ")).findFirst()
                    .orElseThrow(() -> new IllegalStateException(system + " failed:\n"
                            + String.join("\n", text.lines().skip(Math.max(0, text.lines().count() - 30)).toList())));
            return result.substring(7).split(" ");
        } finally {
            ChildJvm.deleteRecursively(dir);
        }
    }

    private static void child(String[] args) throws Exception {
        long start = System.nanoTime() - ManagementFactory.getRuntimeMXBean().getUptime() * 1_000_000L;
        String system = args[1];
        String bootstrap = args[2];
        String output = args[3];
        Path dir = Path.of(args[4]);
        String checkpoints = "-";
        String full = "-";
        String incremental = "-";
        String pause = "-";
        if (system.equals("raw")) {
            rawLoop(bootstrap, output);
        } else {
            StateBackend backend = switch (system) {
                case "heap" -> new HeapStateBackend();
                case "heap-full" -> new HeapStateBackend().withIncrementalCheckpoints(false);
                default -> RocksDBStateBackend.create().withLocalDirectory(dir.resolve("rocksdb"));
            };
            WordCountJob.Settings s = new WordCountJob.Settings(bootstrap, INPUT, output, dir.resolve("checkpoints").toUri().toString(),
                    Duration.ofMillis(Long.getLong("wc.interval", 1000)), 2, DeliveryGuarantee.EXACTLY_ONCE, "wc-bench-" + system, true, false, null,
                    OffsetOutOfRangePolicy.FAIL, false, backend);
            JobClient job = WordCountJob.build(s).executeAsync("wc-bench-" + system);
            job.awaitTermination(null);
            List<CheckpointStats> stats = job.getCompletedCheckpoints();
            checkpoints = Integer.toString(stats.size());
            // the last checkpoint is taken as the input ends; the one before it is taken under full load
            CheckpointStats last = stats.get(Math.max(0, stats.size() - 2));
            full = Long.toString(last.stateSizeBytes());
            incremental = Long.toString(last.incrementalSizeBytes());
            pause = Long.toString(stats.stream().mapToLong(CheckpointStats::maxSyncPauseMicros).max().orElse(0));
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        double cpu = ((OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime() / 1e9;
        long rss = Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("VmHWM:"))
                .mapToLong(l -> Long.parseLong(l.replaceAll("[^0-9]", ""))).findFirst().orElse(0);
        if (Boolean.getBoolean("wc.threadCpu")) {
            printThreadCpu();
        }
        System.out.printf(Locale.ROOT, "RESULT %.2f %.2f %d %s %s %s %s%n", seconds, cpu, rss, checkpoints, full,
                incremental, pause);
        System.exit(0);
    }

    /**
     * CPU seconds per kind of thread of this JVM (Linux {@code /proc}), thread names with their numbers folded
     * together: where the CPU went besides the Java threads a profile samples (compiler, GC).
     */
    private static void printThreadCpu() throws IOException {
        Map<String, Double> byName = new TreeMap<>();
        double tick = 100.0;
        try (var tasks = Files.list(Path.of("/proc/self/task"))) {
            for (Path t : tasks.toList()) {
                String stat;
                try {
                    stat = Files.readString(t.resolve("stat"));
                } catch (IOException gone) {
                    continue;
                }
                String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
                String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                double seconds = (Long.parseLong(f[11]) + Long.parseLong(f[12])) / tick;
                byName.merge(name.replaceAll("[0-9]+", "#"), seconds, Double::sum);
            }
        }
        byName.entrySet().stream().sorted(Map.Entry.<String, Double>comparingByValue().reversed())
                .filter(e -> e.getValue() >= 0.05)
                .forEach(e -> System.out.printf(Locale.ROOT, "THREADCPU %6.2f %s%n", e.getValue(), e.getKey()));
    }

    /** The baseline: consume, count in a HashMap, produce, and commit a transaction with the offsets every second. */
    private static void rawLoop(String bootstrap, String output) {
        Properties c = client(bootstrap);
        c.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        c.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        c.put(ConsumerConfig.GROUP_ID_CONFIG, "wc-bench-raw");
        c.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "2000");
        Properties p = client(bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "wc-bench-raw");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, Integer.toString(128 * 1024));
        Map<String, Long> counts = new HashMap<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(c);
             KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (int i = 0; i < PARTITIONS; i++) {
                partitions.add(new TopicPartition(INPUT, i));
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions);
            producer.initTransactions();
            producer.beginTransaction();
            long lastCommit = System.nanoTime();
            SplitWords split = new SplitWords();
            while (partitions.stream().anyMatch(tp -> consumer.position(tp) < ends.get(tp))) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(100))) {
                    split.flatMap(r.value(), word -> producer.send(new ProducerRecord<>(output, word,
                            Long.toString(counts.merge(word, 1L, Long::sum)))));
                }
                if (System.nanoTime() - lastCommit > TimeUnit.SECONDS.toNanos(1)) {
                    commit(consumer, producer, partitions);
                    producer.beginTransaction();
                    lastCommit = System.nanoTime();
                }
            }
            commit(consumer, producer, partitions);
        }
    }

    private static void commit(KafkaConsumer<String, String> consumer, KafkaProducer<String, String> producer,
                               List<TopicPartition> partitions) {
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        for (TopicPartition tp : partitions) {
            offsets.put(tp, new OffsetAndMetadata(consumer.position(tp)));
        }
        producer.sendOffsetsToTransaction(offsets, consumer.groupMetadata());
        producer.commitTransaction();
    }
}
