package io.onceflow.apps;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.kafka.broker.KafkaBrokerLauncher;
import io.onceflow.kafka.broker.RunningKafkaBroker;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
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
 * {@code onceflow verify} and {@code onceflow transactions}, run from the shaded jar against a real
 * broker on topics whose duplicates, gaps and open transactions the test made itself.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class AuditCommandsIT {

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

    /** Runs a command to its end and returns {exit code, output}. */
    private Object[] run(String... args) throws Exception {
        Path log = Files.createTempFile(dir, "cmd", ".log");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-jar", System.getProperty("onceflow.jar")));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        assertTrue(p.waitFor(90, TimeUnit.SECONDS), "the command did not end: " + List.of(args));
        return new Object[] {p.exitValue(), Files.readString(log, StandardCharsets.UTF_8)};
    }

    private static Properties producerProperties() {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        return p;
    }

    private static void write(String topic, String... keyValues) throws Exception {
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerProperties())) {
            for (int i = 0; i < keyValues.length; i += 2) {
                producer.send(new ProducerRecord<>(topic, 0, keyValues[i], keyValues[i + 1])).get(30, TimeUnit.SECONDS);
            }
        }
    }

    private static void createTopic(String topic) {
        try (KafkaChecks kafka = new KafkaChecks(broker.bootstrapServers())) {
            kafka.ensureTopic(topic, 1);
        }
    }

    @Test
    void verifyReportsDuplicatesGapsAndTheExpectedCounts() throws Exception {
        String bootstrap = broker.bootstrapServers();
        createTopic("exact");
        write("exact", "a", "1", "b", "1", "a", "2", "b", "2", "a", "3");
        Object[] exact = run("verify", "--bootstrap-servers", bootstrap, "--topic", "exact");
        assertEquals(0, exact[0], (String) exact[1]);
        assertTrue(((String) exact[1]).contains("records      5") && ((String) exact[1]).contains("EXACT"), (String) exact[1]);

        createTopic("broken");
        write("broken", "a", "1", "a", "1", "a", "3", "b", "1");
        Object[] broken = run("verify", "--bootstrap-servers", bootstrap, "--topic", "broken");
        String out = (String) broken[1];
        assertEquals(1, broken[0], out);
        assertTrue(out.contains("duplicates   1") && out.contains("gaps         1") && out.contains("NOT EXACT")
                && out.contains("duplicate a=1"), out);

        // against the input's counts: b should have reached 3, and c is not expected at all
        Path expected = Files.writeString(dir.resolve("expected.txt"), "# word count\na 3\nb,3\n");
        write("exact", "c", "1");
        Object[] withFile = run("verify", "--bootstrap-servers", bootstrap, "--topic", "exact", "--expected",
                expected.toString());
        String text = (String) withFile[1];
        assertEquals(1, withFile[0], text);
        assertTrue(text.contains("gaps         1 (lost)") && text.contains("unexpected   1"), text);

        Object[] missing = run("verify", "--bootstrap-servers", bootstrap, "--topic", "no-such-topic");
        assertEquals(1, missing[0]);
        assertTrue(((String) missing[1]).contains("does not exist"), (String) missing[1]);
    }

    @Test
    void transactionsListsAHangingTransactionAndVerifyShowsTheLagItCauses() throws Exception {
        String bootstrap = broker.bootstrapServers();
        createTopic("held");
        write("held", "a", "1");
        Properties p = producerProperties();
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "audit-hanging-0");
        try (KafkaProducer<String, String> hanging = new KafkaProducer<>(p)) {
            hanging.initTransactions();
            hanging.beginTransaction();
            hanging.send(new ProducerRecord<>("held", 0, "a", "2")).get(30, TimeUnit.SECONDS);

            Object[] listed = run("transactions", "--bootstrap-servers", bootstrap, "--prefix", "audit-");
            String out = (String) listed[1];
            assertEquals(0, listed[0], out);
            assertTrue(out.contains("1 open transaction(s) with a transactional id starting with 'audit-'")
                    && out.contains("audit-hanging-0") && out.contains("held-0"), out);

            Object[] verified = run("verify", "--bootstrap-servers", bootstrap, "--topic", "held");
            String v = (String) verified[1];
            assertTrue(v.contains("records      1") && v.contains("an open transaction"), v);

            hanging.abortTransaction();
        }
        Object[] none = run("transactions", "--bootstrap-servers", bootstrap, "--prefix", "audit-");
        assertTrue(((String) none[1]).contains("No open transactions"), (String) none[1]);
    }
}
