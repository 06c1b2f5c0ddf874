package io.onceflow.kafka.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.FinalizedVersionRange;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Runs the real broker through {@link KafkaBrokerLauncher} (no Docker involved). */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class KafkaBrokerLauncherTest {
    private static RunningKafkaBroker broker;
    private static Admin admin;

    @BeforeAll
    static void startBroker() {
        broker = new KafkaBrokerLauncher().start();
        admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers()));
    }

    @AfterAll
    static void stopBroker() {
        if (admin != null) {
            admin.close(Duration.ofSeconds(5));
        }
        if (broker != null) {
            Path dir = broker.dataDirectory();
            assertTrue(broker.deletesDataDirectoryOnStop(), "no data directory given: a temporary one");
            broker.stop();
            assertFalse(broker.isAlive(), "broker JVM still running after stop()");
            assertFalse(Files.exists(dir), "temporary data directory not deleted: " + dir);
            assertFalse(ProcessHandle.of(broker.pid()).map(ProcessHandle::isAlive).orElse(false));
        }
    }

    @Test
    void readCommittedConsumerSeesCommittedRecordsAndNoneOfTheAbortedOnes() throws Exception {
        assertTrue(broker.bootstrapServers().matches("127\\.0\\.0\\.1:\\d+"), broker.bootstrapServers());
        String topic = "tx-" + UUID.randomUUID();
        Topics.create(admin, 4, topic);
        assertEquals(4, admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().size());

        try (KafkaProducer<String, String> producer = transactionalProducer(broker.bootstrapServers())) {
            producer.initTransactions();
            producer.beginTransaction();
            for (int i = 0; i < 8; i++) {
                producer.send(new ProducerRecord<>(topic, i % 4, "k" + i, "committed-" + i));
            }
            producer.commitTransaction();

            producer.beginTransaction();
            for (int i = 0; i < 8; i++) {
                producer.send(new ProducerRecord<>(topic, i % 4, "k" + i, "aborted-" + i));
            }
            producer.flush(); // the aborted records really reach the partitions' logs
            producer.abortTransaction();
        }

        List<TopicPartition> partitions = partitions(topic, 4);
        Map<TopicPartition, Long> end = awaitNoOpenTransaction(admin, partitions);

        List<ConsumerRecord<String, String>> committed =
                readUpTo(broker.bootstrapServers(), end, IsolationLevel.READ_COMMITTED);
        Set<String> expected = new TreeSet<>();
        for (int i = 0; i < 8; i++) {
            expected.add("committed-" + i);
        }
        assertEquals(expected, values(committed), "read_committed must see exactly the committed batch");
        assertEquals(8, committed.size(), "no duplicates");
        Map<Integer, Long> perPartition = committed.stream()
                .collect(Collectors.groupingBy(ConsumerRecord::partition, TreeMap::new, Collectors.counting()));
        assertEquals(Map.of(0, 2L, 1, 2L, 2, 2L, 3, 2L), perPartition);

        // the aborted batch is in the log all the same: read_uncommitted returns it
        List<ConsumerRecord<String, String>> all =
                readUpTo(broker.bootstrapServers(), end, IsolationLevel.READ_UNCOMMITTED);
        assertEquals(16, all.size());
        assertEquals(8, all.stream().filter(r -> r.value().startsWith("aborted-")).count());
    }

    /**
     * Waiting for a topic that is not there yet (created a moment later) ends once its partitions can be written,
     * and logs nothing: the Admin client logs an ERROR with a stack trace for an end-offset request about a topic
     * it does not know, which a command creating its topics would show its user.
     */
    @Test
    void waitingForATopicThatIsNotThereYetLogsNoError() throws Exception {
        String topic = "later-" + UUID.randomUUID();
        PrintStream stderr = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            CompletableFuture<Void> waited = CompletableFuture.runAsync(() -> {
                try {
                    Topics.awaitLeaders(admin, 3, topic);
                } catch (Exception e) {
                    throw new CompletionException(e);
                }
            });
            Thread.sleep(500);
            assertFalse(waited.isDone(), "no topic " + topic + " yet");
            admin.createTopics(List.of(new NewTopic(topic, 3, (short) 1))).all().get();
            waited.get(60, TimeUnit.SECONDS);
        } finally {
            System.setErr(stderr);
        }
        String log = captured.toString(StandardCharsets.UTF_8);
        assertFalse(log.contains("ERROR") || log.contains("Exception"), "logged while waiting:\n" + log);
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers(),
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName(),
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName(),
                ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "10000",
                ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000"))) {
            for (int p = 0; p < 3; p++) {
                producer.send(new ProducerRecord<>(topic, p, "k", "v")).get(15, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void brokerKeepsKafkasTransactionDefaults() throws Exception {
        ConfigResource brokerResource = new ConfigResource(ConfigResource.Type.BROKER,
                Integer.toString(KafkaBrokerLauncher.NODE_ID));
        Config config = admin.describeConfigs(List.of(brokerResource)).all().get(30, TimeUnit.SECONDS)
                .get(brokerResource);
        assertEquals("900000", config.get("transaction.max.timeout.ms").value());
        assertEquals("1", config.get("transaction.state.log.min.isr").value());
        assertEquals("1", config.get("transaction.state.log.replication.factor").value());

        FinalizedVersionRange transactionVersion = admin.describeFeatures().featureMetadata()
                .get(30, TimeUnit.SECONDS).finalizedFeatures().get("transaction.version");
        assertTrue(transactionVersion != null && transactionVersion.maxVersionLevel() >= 2,
                "transactions v2 must be on: " + transactionVersion);
    }

    @Test
    void restartOnTheSameDataDirectoryKeepsTopicsAndCommittedRecords(@TempDir Path tmp) throws Exception {
        Path dataDir = tmp.resolve("kafka-data");
        String topic = "durable";
        String firstClusterId;
        int firstPort;
        try (RunningKafkaBroker first = new KafkaBrokerLauncher().dataDirectory(dataDir).start()) {
            firstClusterId = first.clusterId();
            firstPort = first.port();
            assertFalse(first.deletesDataDirectoryOnStop());
            try (Admin a = admin(first)) {
                Topics.create(a, 2, topic);
            }
            try (KafkaProducer<String, String> producer = transactionalProducer(first.bootstrapServers())) {
                producer.initTransactions();
                producer.beginTransaction();
                for (int i = 0; i < 3; i++) {
                    producer.send(new ProducerRecord<>(topic, i % 2, "k" + i, "kept-" + i));
                }
                producer.commitTransaction();
            }
            first.stop();
            assertFalse(first.isAlive());
        }
        assertTrue(Files.exists(dataDir.resolve("kraft-logs/meta.properties")), "storage kept after stop");
        assertEquals(firstClusterId, Files.readString(dataDir.resolve("cluster.id")).trim());

        try (RunningKafkaBroker second = new KafkaBrokerLauncher().dataDirectory(dataDir).start();
                Admin a = admin(second)) {
            assertEquals(firstClusterId, second.clusterId());
            assertEquals(firstPort, second.port(), "port 0 prefers the previous run's port: same bootstrap address");
            assertEquals(firstClusterId, a.describeCluster().clusterId().get(30, TimeUnit.SECONDS));
            assertTrue(a.listTopics().names().get(30, TimeUnit.SECONDS).contains(topic));
            List<TopicPartition> partitions = partitions(topic, 2);
            Map<TopicPartition, Long> end = awaitNoOpenTransaction(a, partitions);
            List<ConsumerRecord<String, String>> records =
                    readUpTo(second.bootstrapServers(), end, IsolationLevel.READ_COMMITTED);
            assertEquals(Set.of("kept-0", "kept-1", "kept-2"), values(records));
            assertEquals(3, records.size());
        }
        assertTrue(Files.exists(dataDir), "a given data directory is not deleted on stop");
        String log = Files.readString(dataDir.resolve("broker.log"));
        assertTrue(log.contains("formatting storage") && log.contains("storage already formatted"),
                "formatted once, then reused");
    }

    @Test
    void portAlreadyInUseFailsFastWithAClearMessage() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"))) {
            int port = taken.getLocalPort();
            long begin = System.nanoTime();
            KafkaBrokerException e = assertThrows(KafkaBrokerException.class,
                    () -> new KafkaBrokerLauncher().port(port).startupTimeout(Duration.ofSeconds(30)).start());
            Duration took = Duration.ofNanos(System.nanoTime() - begin);
            assertTrue(e.getMessage().contains("127.0.0.1:" + port), e.getMessage());
            assertTrue(e.getMessage().contains("already in use"), e.getMessage());
            assertTrue(took.compareTo(Duration.ofSeconds(10)) < 0, "took " + took);
        }
    }

    @Test
    void brokerExitingDuringStartupFailsWithTheTailOfItsLog() {
        long begin = System.nanoTime();
        KafkaBrokerException e = assertThrows(KafkaBrokerException.class, () -> new KafkaBrokerLauncher()
                .brokerProperty("num.network.threads", "not-a-number")
                .startupTimeout(Duration.ofSeconds(45)).start());
        Duration took = Duration.ofNanos(System.nanoTime() - begin);
        String message = e.getMessage();
        assertTrue(message.contains("exited with code"), message);
        assertTrue(message.contains("Check the broker log"), message);
        // the broker's own complaint, from the tail of its log
        assertTrue(message.contains("num.network.threads"), message);
        assertTrue(took.compareTo(Duration.ofSeconds(40)) < 0, "took " + took);
    }

    @Test
    void managedPropertiesCannotBeOverridden() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new KafkaBrokerLauncher().brokerProperty("listeners", "PLAINTEXT://0.0.0.0:9092"));
        assertTrue(e.getMessage().contains("listeners"), e.getMessage());
    }

    @Test
    void childClasspathHoldsTheBrokerAndThisModule() {
        List<Path> classpath = KafkaBrokerLauncher.childClasspath();
        // Surefire's manifest-only booter jar is expanded into the jars it refers to
        assertTrue(classpath.stream().anyMatch(p -> p.getFileName().toString().startsWith("kafka_2.13-")), classpath::toString);
        assertTrue(classpath.stream().anyMatch(p -> p.getFileName().toString().startsWith("scala-library-")));
        assertTrue(classpath.stream().anyMatch(p -> p.getFileName().toString().startsWith("log4j-slf4j2-impl-")));
        assertTrue(classpath.stream().anyMatch(p -> p.endsWith(Path.of("target", "classes"))), classpath::toString);
        assertTrue(classpath.stream().allMatch(Files::exists));
        assertEquals(classpath.size(), new TreeSet<>(classpath).size(), "no duplicates");
    }

    @Test
    void manifestOnlyJarsAreExpandedIntoTheirClassPath(@TempDir Path tmp) throws Exception {
        // like Surefire's booter jar or a `java -jar` application: classes elsewhere, named by Class-Path
        Path lib = Files.createDirectories(tmp.resolve("lib dir"));
        Path a = Files.createFile(lib.resolve("a.jar"));
        Path classes = Files.createDirectories(tmp.resolve("classes"));
        Path booter = tmp.resolve("booter/booter.jar");
        Files.createDirectories(booter.getParent());
        Manifest manifest = new Manifest();
        manifest.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        manifest.getMainAttributes().put(Attributes.Name.CLASS_PATH,
                "../lib%20dir/a.jar " + classes.toUri() + " ../missing.jar");
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(booter), manifest)) {
            out.flush();
        }
        Set<Path> entries = new LinkedHashSet<>();
        KafkaBrokerLauncher.addWithManifestClassPath(booter, entries);
        assertEquals(List.of(booter, a, classes), new ArrayList<>(entries));
    }

    // ------------------------------------------------------------------ helpers

    private static Admin admin(RunningKafkaBroker b) {
        return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, b.bootstrapServers()));
    }

    private static KafkaProducer<String, String> transactionalProducer(String bootstrap) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "onceflow-test-" + UUID.randomUUID());
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
        return new KafkaProducer<>(p);
    }

    private static List<TopicPartition> partitions(String topic, int count) {
        List<TopicPartition> list = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            list.add(new TopicPartition(topic, i));
        }
        return list;
    }

    /**
     * Commit and abort markers are written after commitTransaction/abortTransaction return; waits until
     * the last stable offset equals the high watermark everywhere, and returns those end offsets.
     */
    private static Map<TopicPartition, Long> awaitNoOpenTransaction(Admin a, List<TopicPartition> partitions)
            throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            Map<TopicPartition, Long> stable = endOffsets(a, partitions, IsolationLevel.READ_COMMITTED);
            Map<TopicPartition, Long> high = endOffsets(a, partitions, IsolationLevel.READ_UNCOMMITTED);
            if (stable.equals(high)) {
                return stable;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("transactions still open after 30 s: LSO " + stable + ", HW " + high);
            }
            Thread.sleep(50);
        }
    }

    private static Map<TopicPartition, Long> endOffsets(Admin a, List<TopicPartition> partitions,
            IsolationLevel isolation) throws ExecutionException, InterruptedException {
        Map<TopicPartition, OffsetSpec> request = new HashMap<>();
        partitions.forEach(tp -> request.put(tp, OffsetSpec.latest()));
        Map<TopicPartition, Long> result = new HashMap<>();
        a.listOffsets(request, new ListOffsetsOptions(isolation)).all().get()
                .forEach((tp, info) -> result.put(tp, info.offset()));
        return result;
    }

    /** Everything from the beginning up to the given end offsets, with a fresh consumer (no group). */
    private static List<ConsumerRecord<String, String>> readUpTo(String bootstrap, Map<TopicPartition, Long> end,
            IsolationLevel isolation) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation.toString());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        List<ConsumerRecord<String, String>> records = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p)) {
            consumer.assign(end.keySet());
            consumer.seekToBeginning(end.keySet());
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (end.entrySet().stream().anyMatch(e -> consumer.position(e.getKey()) < e.getValue())) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("did not reach the end offsets " + end + " in 30 s; read " + records);
                }
                consumer.poll(Duration.ofMillis(200)).forEach(records::add);
            }
        }
        return records;
    }

    private static Set<String> values(List<ConsumerRecord<String, String>> records) {
        return records.stream().map(ConsumerRecord::value).collect(Collectors.toCollection(TreeSet::new));
    }
}
