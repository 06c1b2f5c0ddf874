package io.onceflow.apps;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.kafka.broker.KafkaBrokerLauncher;
import io.onceflow.kafka.broker.RunningKafkaBroker;
import io.onceflow.testing.SequenceChecker;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shaded jar's commands as a user runs them, as child processes against a real broker: wordcount
 * killed with kill -9 while input keeps arriving and restarted with the same arguments, checked by an
 * independent read_committed consumer; and every bad-input case answered with one line and a non-zero exit.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class CommandLineIT {

    private static RunningKafkaBroker broker;

    @TempDir
    Path dir;

    @BeforeAll
    static void startBroker() {
        broker = new KafkaBrokerLauncher().start();
    }

    @AfterAll
    static void stopBroker() {
        if (broker != null) {
            broker.stop();
        }
    }

    private static Process onceflow(Path log, String... args) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx384m", "-jar", System.getProperty("onceflow.jar")));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .start();
    }

    /** Runs a command to its end and returns {exit code, output}. */
    private Object[] run(String... args) throws Exception {
        Path log = Files.createTempFile(dir, "cmd", ".log");
        Process p = onceflow(log, args);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the command did not end: " + List.of(args));
        return new Object[] {p.exitValue(), Files.readString(log, StandardCharsets.UTF_8).trim()};
    }

    private static void assertOneLineError(Object[] result, String expected) {
        int exit = (int) result[0];
        String out = (String) result[1];
        assertNotEquals(0, exit, "a bad input must exit non-zero: " + out);
        List<String> lines = out.lines().filter(l -> !l.startsWith("SLF4J")).toList();
        assertEquals(1, lines.size(), "one line, not a stack trace:\n" + out);
        assertTrue(lines.get(0).contains(expected), "the line names the problem: " + lines.get(0));
        assertFalse(out.contains("\tat "), out);
    }

    private String[] wordcount(String bootstrap, String input, String output, Path checkpoints, String... extra) {
        List<String> args = new ArrayList<>(List.of("wordcount", "--bootstrap-servers", bootstrap, "--input", input,
                "--output", output, "--checkpoint-dir", checkpoints.toString()));
        args.addAll(List.of(extra));
        return args.toArray(new String[0]);
    }

    @Test
    void badInputGetsOneClearLineAndANonZeroExit() throws Exception {
        String bootstrap = broker.bootstrapServers();
        createTopic(bootstrap, "errors-in", 1);
        assertOneLineError(run(wordcount(bootstrap, "errors-in", "errors-out", dir.resolve("c1"),
                "--checkpoint-interval", "soon")), "'soon' is not a duration");
        assertOneLineError(run(wordcount(bootstrap, "no-such-topic", "errors-out", dir.resolve("c2"))),
                "The input topic 'no-such-topic' does not exist");
        int freePort;
        try (ServerSocket s = new ServerSocket(0)) {
            freePort = s.getLocalPort();
        }
        assertOneLineError(run(wordcount("127.0.0.1:" + freePort, "errors-in", "errors-out", dir.resolve("c3"))),
                "Cannot reach Kafka at 127.0.0.1:" + freePort);
        Path file = Files.writeString(dir.resolve("a-file"), "x");
        assertOneLineError(run(wordcount(bootstrap, "errors-in", "errors-out", file.resolve("checkpoints"))),
                "Cannot write to the checkpoint directory");
        assertOneLineError(run(wordcount(bootstrap, "errors-in", "errors-out", dir.resolve("c4"), "--delivery", "maybe")),
                "--delivery must be exactly-once or at-least-once");
    }

    @Test
    void wordcountKilledWhileInputArrivesAndRestartedCountsExactlyOnce() throws Exception {
        String bootstrap = broker.bootstrapServers();
        createTopic(bootstrap, "wc-in", 4);
        createTopic(bootstrap, "wc-out", 4);
        Path checkpoints = dir.resolve("checkpoints");
        Path log = dir.resolve("wordcount.log");
        String[] args = wordcount(bootstrap, "wc-in", "wc-out", checkpoints, "--checkpoint-interval", "300ms");

        Map<String, Long> expected = new HashMap<>();
        AtomicBoolean writing = new AtomicBoolean(true);
        Thread writer = new Thread(() -> writeLines(bootstrap, expected, writing), "input writer");
        writer.start();
        Random random = new Random(3);
        int kills = 4;
        for (int i = 0; i < kills; i++) {
            long before = latestCheckpoint(checkpoints);
            Process p = onceflow(log, args);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (latestCheckpoint(checkpoints) <= before && p.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertFalse(p.waitFor(200 + random.nextInt(1500), TimeUnit.MILLISECONDS),
                    "wordcount ended on its own:\n" + Files.readString(log));
            p.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            assertEquals(137, p.exitValue());
        }
        writing.set(false);
        writer.join();
        long total = expected.values().stream().mapToLong(Long::longValue).sum();

        Process last = onceflow(log, args);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        List<Map.Entry<String, Long>> output = List.of();
        while (System.nanoTime() < deadline) {
            output = OutputCheck.readCommitted(bootstrap, "wc-out", Duration.ofSeconds(30));
            if (output.size() >= total) {
                break;
            }
            Thread.sleep(500);
        }
        last.destroy();
        assertTrue(last.waitFor(60, TimeUnit.SECONDS), "Ctrl-C (SIGTERM) stops wordcount");
        String text = Files.readString(log);
        assertTrue(text.contains("Stopped after checkpoint"), "a graceful stop:\n" + text);

        SequenceChecker.Result result = OutputCheck.check(OutputCheck.readCommitted(bootstrap, "wc-out",
                Duration.ofSeconds(30)), expected);
        assertTrue(result.exact(), "after " + kills + " kill -9 of the jar: " + result);
        assertEquals(total, result.records());
    }

    /** Writes lines of words at a steady pace until told to stop, counting every word written. */
    private static void writeLines(String bootstrap, Map<String, Long> counts, AtomicBoolean writing) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        Random random = new Random(11);
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            while (writing.get()) {
                for (int i = 0; i < 50; i++) {
                    StringBuilder line = new StringBuilder();
                    for (int w = 0; w < 5; w++) {
                        String word = "w" + random.nextInt(300);
                        line.append(word).append(' ');
                        synchronized (counts) {
                            counts.merge(word, 1L, Long::sum);
                        }
                    }
                    producer.send(new ProducerRecord<>("wc-in", line.toString()));
                }
                producer.flush();
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }
    }

    private static long latestCheckpoint(Path checkpoints) throws IOException {
        Path job = checkpoints.resolve("wordcount");
        if (!Files.isDirectory(job)) {
            return 0;
        }
        try (Stream<Path> s = Files.list(job)) {
            return s.filter(d -> Files.exists(d.resolve("_metadata")))
                    .mapToLong(d -> Long.parseLong(d.getFileName().toString().substring(4))).max().orElse(0);
        }
    }

    private static void createTopic(String bootstrap, String topic, int partitions) {
        try (KafkaChecks kafka = new KafkaChecks(bootstrap)) {
            kafka.ensureTopic(topic, partitions);
        }
    }
}
