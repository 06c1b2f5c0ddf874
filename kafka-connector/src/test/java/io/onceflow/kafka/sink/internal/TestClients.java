package io.onceflow.kafka.sink.internal;

import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/** Independent read_committed reading, coordinator look-ups and child JVMs for the transaction tests. */
final class TestClients {
    private TestClients() {
    }

    /**
     * Everything a fresh read_committed consumer reads from the partitions, read until its position reaches the
     * high watermark of each (so no transaction is left undecided there), as "partition:value" strings.
     */
    static List<String> readAllCommitted(Properties client, Admin admin, String topic, int partitions,
            Duration timeout) throws Exception {
        List<TopicPartition> tps = new ArrayList<>();
        for (int p = 0; p < partitions; p++) {
            tps.add(new TopicPartition(topic, p));
        }
        Map<TopicPartition, Long> hw = admin.listOffsets(tps.stream().collect(Collectors.toMap(tp -> tp,
                tp -> OffsetSpec.latest())), new ListOffsetsOptions(IsolationLevel.READ_UNCOMMITTED)).all()
                .get(30, TimeUnit.SECONDS).entrySet().stream()
                .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().offset()));
        List<String> values = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = readCommittedConsumer(client)) {
            consumer.assign(tps);
            consumer.seekToBeginning(tps);
            long deadline = System.nanoTime() + timeout.toNanos();
            while (true) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                    values.add(r.partition() + ":" + new String(r.value(), StandardCharsets.UTF_8));
                }
                boolean done = true;
                for (TopicPartition tp : tps) {
                    done &= consumer.position(tp) >= hw.get(tp);
                }
                if (done) {
                    return values;
                }
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("a read_committed consumer did not reach the high watermarks " + hw
                            + " of " + topic + " within " + timeout + " (a transaction left open?); read " + values);
                }
            }
        }
    }

    /** Polls a fresh read_committed consumer until a value matches; returns the milliseconds it took. */
    static long millisUntilVisible(Properties client, TopicPartition tp, Predicate<String> match, Duration timeout) {
        long begin = System.nanoTime();
        try (KafkaConsumer<byte[], byte[]> consumer = readCommittedConsumer(client)) {
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            long deadline = begin + timeout.toNanos();
            while (System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                    if (match.test(new String(r.value(), StandardCharsets.UTF_8))) {
                        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - begin);
                    }
                }
            }
        }
        throw new AssertionError("no matching record visible to read_committed on " + tp + " within " + timeout);
    }

    static KafkaConsumer<byte[], byte[]> readCommittedConsumer(Properties client) {
        Properties c = new Properties();
        c.putAll(client);
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        c.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        c.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        return new KafkaConsumer<>(c);
    }

    static TransactionDescription describe(Admin admin, String transactionalId) throws Exception {
        return admin.describeTransactions(List.of(transactionalId)).description(transactionalId)
                .get(30, TimeUnit.SECONDS);
    }

    // ------------------------------------------------------------------ child JVMs

    /** A child JVM running {@code mainClass} on this JVM's classpath; stderr goes to {@code stderr}. */
    static Process startJava(Class<?> mainClass, Path stderr, String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx128m");
        cmd.add("-XX:TieredStopAtLevel=1");
        cmd.add("-Dslf4j.provider=org.slf4j.simple.SimpleServiceProvider");
        cmd.add("-Dorg.slf4j.simpleLogger.log.org.apache.kafka=warn");
        cmd.add("-cp");
        cmd.add(classpath().stream().map(Path::toString).collect(Collectors.joining(File.pathSeparator)));
        cmd.add(mainClass.getName());
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectError(stderr.toFile()).start();
    }

    /** Runs {@code mainClass} on the classpath to its end (60 s at most); returns its standard output lines. */
    static List<String> runJava(Class<?> mainClass, List<Path> classpath, List<String> jvmArgs, Path stderr,
            String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx128m");
        cmd.add("-Dslf4j.provider=org.slf4j.simple.SimpleServiceProvider");
        cmd.add("-Dorg.slf4j.simpleLogger.log.org.apache.kafka=warn");
        cmd.addAll(jvmArgs);
        cmd.add("-cp");
        cmd.add(classpath.stream().map(Path::toString).collect(Collectors.joining(File.pathSeparator)));
        cmd.add(mainClass.getName());
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectError(stderr.toFile()).start();
        List<String> lines = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines().toList();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(mainClass.getSimpleName() + " did not end; printed " + lines);
        }
        return lines;
    }

    /** java.class.path with the Class-Path of manifest-only jars (Surefire's booter jar) expanded. */
    static List<Path> classpath() {
        Set<Path> entries = new LinkedHashSet<>();
        for (String e : System.getProperty("java.class.path", "").split(File.pathSeparator)) {
            if (!e.isBlank()) {
                add(Paths.get(e), entries);
            }
        }
        return new ArrayList<>(entries);
    }

    private static void add(Path entry, Set<Path> entries) {
        Path p = entry.toAbsolutePath().normalize();
        if (!Files.exists(p) || !entries.add(p) || !Files.isRegularFile(p)) {
            return;
        }
        try (JarFile jar = new JarFile(p.toFile())) {
            Manifest m = jar.getManifest();
            String cp = m == null ? null : m.getMainAttributes().getValue("Class-Path");
            if (cp != null) {
                URI base = p.toUri();
                for (String ref : cp.trim().split("\\s+")) {
                    URI u = base.resolve(ref);
                    if ("file".equals(u.getScheme())) {
                        add(Paths.get(u), entries);
                    }
                }
            }
        } catch (IOException | IllegalArgumentException e) {
            // not a jar, or an unreadable manifest: keep the entry as it is
        }
    }
}
