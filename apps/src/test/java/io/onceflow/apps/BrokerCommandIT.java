package io.onceflow.apps;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** {@code onceflow broker}: prints its address, serves clients, stops on SIGTERM, keeps its data across restarts. */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class BrokerCommandIT {

    @TempDir
    Path dir;

    private Process broker(int port, Path log) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return new ProcessBuilder(java, "-jar", System.getProperty("onceflow.jar"), "broker", "--port",
                Integer.toString(port), "--data-dir", dir.resolve("data").toString())
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
    }

    private static void awaitLine(Path log, String text, int occurrences, Process p) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (System.nanoTime() < deadline && p.isAlive()) {
            if (Files.readAllLines(log).stream().filter(l -> l.contains(text)).count() >= occurrences) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("no '" + text + "' from the broker command:\n" + Files.readString(log));
    }

    @Test
    void servesClientsStopsCleanlyAndKeepsItsData() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        String bootstrap = "127.0.0.1:" + port;
        Path log = dir.resolve("broker.log");

        Process first = broker(port, log);
        awaitLine(log, "Kafka broker ready at " + bootstrap, 1, first);
        try (KafkaChecks kafka = new KafkaChecks(bootstrap)) {
            kafka.ensureTopic("kept", 1);
        }
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            producer.send(new ProducerRecord<>("kept", "word", "1")).get(30, TimeUnit.SECONDS);
        }
        first.destroy();
        assertTrue(first.waitFor(60, TimeUnit.SECONDS), "SIGTERM stops the broker command");
        assertTrue(Files.readString(log).contains("Stopping Kafka broker"), Files.readString(log));

        Process second = broker(port, log);
        try {
            awaitLine(log, "Kafka broker ready at " + bootstrap, 2, second);
            Properties client = new Properties();
            client.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            io.onceflow.kafka.audit.ExactlyOnceAudit.Report kept = io.onceflow.kafka.audit.ExactlyOnceAudit.verify(client,
                    "kept", java.util.Map.of("word", 1L), Duration.ofSeconds(30));
            assertTrue(kept.exact() && kept.records() == 1, "the record written before the restart is still there: " + kept);
        } finally {
            second.destroy();
            second.waitFor(60, TimeUnit.SECONDS);
        }
    }
}
