package io.onceflow.kafka.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.JobClient;
import io.onceflow.api.RestartStrategies;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.kafka.broker.Topics;
import io.onceflow.kafka.testing.KafkaTestCluster;
import io.onceflow.runtime.fault.FaultPoint;
import io.onceflow.testing.CommittedStore;
import io.onceflow.testing.InjectedFailure;
import io.onceflow.testing.TransactionalTestSink;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Partitions added to a source's topic, while the job runs and while it is down, against a real broker: every record
 * of the topic, old partitions and new, is in the committed output exactly once.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class KafkaSourcePartitionDiscoveryTest {

    @RegisterExtension
    static final KafkaTestCluster kafka = new KafkaTestCluster();

    private static String topic(int partitions) throws Exception {
        return kafka.createTopic("grow", partitions);
    }

    private static void addPartitions(String topic, int total) throws Exception {
        try (Admin admin = kafka.createAdmin()) {
            admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(total))).all().get(30, TimeUnit.SECONDS);
            Topics.awaitLeaders(admin, total, topic);
        }
    }

    /** Writes "r-i" for i in [from, to) into partition i % partitions. */
    private static void write(String topic, int from, int to, int partitions) {
        Properties p = kafka.clientProperties();
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            for (int i = from; i < to; i++) {
                producer.send(new ProducerRecord<>(topic, i % partitions, null, "r-" + i));
            }
        }
    }

    private static KafkaSource<String> source(Duration discovery, String... topics) {
        return KafkaSource.<String>builder().setBootstrapServers(kafka.bootstrapServers()).setTopics(topics)
                .setDeserializer(KafkaRecordDeserializer.utf8Values()).setPartitionDiscoveryInterval(discovery).build();
    }

    private static KafkaSource<String> source(String topic, Duration discovery) {
        return source(discovery, topic);
    }

    private static JobClient copy(KafkaSource<String> source, int parallelism, CommittedStore store, Path checkpoints,
                                  String name) throws Exception {
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(parallelism);
        env.enableCheckpointing(Duration.ofMillis(100));
        env.getCheckpointConfig().setCheckpointStorage(checkpoints.toUri().toString());
        env.setRestartStrategy(RestartStrategies.noRestart());
        env.fromSource(source, "kafka").uid("kafka").sinkTo(new TransactionalTestSink(store)).uid("sink");
        return env.executeAsync(name);
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Thread.sleep(20);
        }
    }

    /** "r-0" to "r-(records - 1)" committed once each, and nothing else. */
    private static void assertEachOnce(int records, CommittedStore store) throws Exception {
        Map<String, Integer> times = new HashMap<>();
        for (String r : store.readAll()) {
            times.merge(r, 1, Integer::sum);
        }
        List<String> missing = new ArrayList<>();
        List<String> repeated = new ArrayList<>();
        for (int i = 0; i < records; i++) {
            Integer n = times.remove("r-" + i);
            if (n == null) {
                missing.add("r-" + i);
            } else if (n > 1) {
                repeated.add("r-" + i + " x" + n);
            }
        }
        assertTrue(missing.isEmpty() && repeated.isEmpty() && times.isEmpty(), missing.size() + " of " + records
                + " records missing " + first(missing) + ", " + repeated.size() + " committed more than once "
                + first(repeated) + ", not expected " + times.keySet());
    }

    private static List<String> first(List<String> list) {
        return list.subList(0, Math.min(10, list.size()));
    }

    @Test
    void partitionsAddedWhileTheJobRunsAreReadFromTheirStartBySubtaskEach(@TempDir Path dir) throws Exception {
        String topic = topic(2);
        write(topic, 0, 100, 2);
        CommittedStore store = CommittedStore.inMemory();
        JobClient job = copy(source(topic, Duration.ofMillis(200)), 2, store, dir.resolve("checkpoints"), topic);
        await(() -> job.getMetrics().numRecordsIn() >= 100, "the first 100 records read");

        addPartitions(topic, 5);
        write(topic, 100, 400, 5); // 60 into each of the three new partitions, which no subtask read at the start
        await(() -> job.getMetrics().numRecordsIn() >= 400, "the records of the new partitions read");
        job.stop(Duration.ofSeconds(30));
        assertEachOnce(400, store);
    }

    @Test
    void partitionsAddedWhileTheJobWasDownAreReadOnceAfterARestartAtAnotherParallelism(@TempDir Path dir)
            throws Exception {
        String topic = topic(2);
        write(topic, 0, 100, 2);
        Path checkpoints = dir.resolve("checkpoints");
        // one store for both runs: a restore commits the restored checkpoint's transactions again (idempotently)
        CommittedStore store = CommittedStore.inMemory();
        JobClient first = copy(source(topic, Duration.ZERO), 2, store, checkpoints, topic);
        await(() -> first.getMetrics().numRecordsIn() >= 100, "the first 100 records read");
        first.stop(Duration.ofSeconds(30));

        addPartitions(topic, 4);
        write(topic, 100, 300, 4);
        // at parallelism 3 a subtask restores splits another subtask held: only partitions no subtask held are new
        JobClient second = copy(source(topic, Duration.ZERO), 3, store, checkpoints, topic);
        await(() -> second.getMetrics().numRecordsIn() >= 200, "the 200 records written while the job was down read");
        second.stop(Duration.ofSeconds(30));
        assertEachOnce(300, store);
    }

    /**
     * The crash window of a new partition: read from its start, its records sent on in open transactions, and the job
     * killed before a checkpoint holds it. The restore's checkpoint is from before the partitions were added: the
     * restarted attempt finds them again, as new, and reads them from the start again.
     */
    @Test
    void aCrashAfterANewPartitionWasReadButBeforeACheckpointHeldItReadsItAgainOnce(@TempDir Path dir)
            throws Exception {
        String topic = topic(2);
        write(topic, 0, 100, 2);
        CommittedStore store = CommittedStore.inMemory();
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(2);
        env.enableCheckpointing(Duration.ofSeconds(6)); // time enough to read the new partitions before checkpoint 2
        env.getCheckpointConfig().setCheckpointStorage(dir.resolve("checkpoints").toUri().toString());
        env.setRestartStrategy(RestartStrategies.fixedDelay(1, Duration.ZERO));
        AtomicBoolean crashed = new AtomicBoolean();
        env.setFaultInjector((point, uid, subtask, checkpointId) -> {
            if (point == FaultPoint.BEFORE_SNAPSHOT && "kafka".equals(uid) && checkpointId == 2
                    && crashed.compareAndSet(false, true)) {
                throw new InjectedFailure("crash at checkpoint 2, the new partitions read but in no checkpoint");
            }
        });
        env.fromSource(source(topic, Duration.ofMillis(100)), "kafka").uid("kafka")
                .sinkTo(new TransactionalTestSink(store)).uid("sink");
        JobClient job = env.executeAsync(topic);
        await(() -> job.getCompletedCheckpoints().size() == 1, "checkpoint 1, of the two partitions, completed");
        assertEquals(100, job.getMetrics().numRecordsIn(), "checkpoint 1 came after the first 100 records");

        addPartitions(topic, 4);
        write(topic, 100, 300, 4);
        await(() -> job.getMetrics().numRecordsIn() >= 300, "the records of the new partitions read");
        assertEquals(0, job.getMetrics().numRestarts(), "read before the crash");
        // restored from checkpoint 1, the restarted attempt finds the new partitions again and reads their 200 again
        await(() -> job.getMetrics().numRestarts() == 1 && job.getMetrics().numRecordsIn() >= 500,
                "the crash at checkpoint 2 and the new partitions read again");
        assertEquals(1, job.getCompletedCheckpoints().get(0).checkpointId());
        assertEquals(3, job.getCompletedCheckpoints().get(1).checkpointId(), "checkpoint 2 never completed");
        job.stop(Duration.ofSeconds(30));
        assertEachOnce(300, store);
    }

    @Test
    void aTopicCreatedWhileTheJobRunsIsReadWhenItMatchesThePatternAndNotOtherwise(@TempDir Path dir) throws Exception {
        String prefix = "grow-" + UUID.randomUUID().toString().substring(0, 8);
        try (Admin admin = kafka.createAdmin()) {
            Topics.create(admin, 2, prefix + "-a");
        }
        write(prefix + "-a", 0, 100, 2);
        CommittedStore store = CommittedStore.inMemory();
        KafkaSource<String> source = KafkaSource.<String>builder().setBootstrapServers(kafka.bootstrapServers())
                .setTopicPattern(java.util.regex.Pattern.compile(java.util.regex.Pattern.quote(prefix) + "-.*"))
                .setDeserializer(KafkaRecordDeserializer.utf8Values())
                .setProperty(KafkaSourceBuilder.PARTITION_DISCOVERY_INTERVAL_MS, "200").build();
        JobClient job = copy(source, 2, store, dir.resolve("checkpoints"), prefix);
        await(() -> job.getMetrics().numRecordsIn() >= 100, "the first topic's 100 records read");

        try (Admin admin = kafka.createAdmin()) {
            Topics.create(admin, 3, prefix + "-b", prefix + "x");
        }
        write(prefix + "-b", 100, 250, 3);
        write(prefix + "x", 1000, 1050, 3); // does not match the pattern
        await(() -> job.getMetrics().numRecordsIn() >= 250, "the new matching topic's records read");
        Thread.sleep(500); // five more looks: the other topic is still not read
        job.stop(Duration.ofSeconds(30));
        assertEachOnce(250, store);
    }

    @Test
    void aTopicAddedToTheSourceBetweenRunsIsReadFromItsStart(@TempDir Path dir) throws Exception {
        String first = topic(2);
        String second = topic(2);
        write(first, 0, 100, 2);
        write(second, 100, 200, 2); // already there, but the first run does not read it
        Path checkpoints = dir.resolve("checkpoints");
        CommittedStore store = CommittedStore.inMemory();
        JobClient one = copy(source(first, Duration.ZERO), 2, store, checkpoints, first);
        await(() -> one.getMetrics().numRecordsIn() >= 100, "the first topic's 100 records read");
        one.stop(Duration.ofSeconds(30));

        JobClient two = copy(source(Duration.ZERO, first, second), 2, store, checkpoints, first);
        await(() -> two.getMetrics().numRecordsIn() >= 100, "the added topic's 100 records read");
        two.stop(Duration.ofSeconds(30));
        assertEachOnce(200, store);
    }

    /**
     * A topic taken out of the source's topics between runs is not read, though its partitions are in the checkpoint
     * (Flink's Kafka source reads them on); put back, it resumes where it stopped: nothing of it is read twice.
     */
    @Test
    void aTopicTakenOutOfTheSourceIsNotReadAndResumesWhereItStoppedWhenPutBack(@TempDir Path dir) throws Exception {
        String first = topic(2);
        String second = topic(2);
        write(first, 0, 100, 2);
        write(second, 100, 200, 2);
        Path checkpoints = dir.resolve("checkpoints");
        CommittedStore store = CommittedStore.inMemory();
        JobClient both = copy(source(Duration.ZERO, first, second), 2, store, checkpoints, first);
        await(() -> both.getMetrics().numRecordsIn() >= 200, "both topics' 200 records read");
        both.stop(Duration.ofSeconds(30));

        write(first, 200, 300, 2);
        write(second, 300, 400, 2);
        JobClient one = copy(source(first, Duration.ZERO), 2, store, checkpoints, first);
        await(() -> one.getMetrics().numRecordsIn() >= 100, "the first topic's 100 new records read");
        Thread.sleep(1500); // past the look a second after the start: the other topic's partitions are not new
        one.stop(Duration.ofSeconds(30));
        assertEquals(100, one.getMetrics().numRecordsIn(), "only the first topic's records read");
        assertEachOnce(300, store);

        JobClient again = copy(source(Duration.ZERO, first, second), 2, store, checkpoints, first);
        await(() -> again.getMetrics().numRecordsIn() >= 100, "the second topic's 100 records of meanwhile read");
        again.stop(Duration.ofSeconds(30));
        assertEachOnce(400, store);
    }

    /** A topic the reader held and that was deleted does not stop its looks from finding the partitions of others. */
    @Test
    void aDeletedTopicDoesNotKeepTheLooksFromFindingNewOnes() throws Exception {
        String prefix = "grow-" + UUID.randomUUID().toString().substring(0, 8);
        try (Admin admin = kafka.createAdmin()) {
            Topics.create(admin, 1, prefix + "-a");
        }
        write(prefix + "-a", 0, 10, 1);
        KafkaSource<String> source = KafkaSource.<String>builder().setBootstrapServers(kafka.bootstrapServers())
                .setTopicPattern(java.util.regex.Pattern.compile(java.util.regex.Pattern.quote(prefix) + "-.*"))
                .setDeserializer(KafkaRecordDeserializer.utf8Values())
                .setPartitionDiscoveryInterval(Duration.ofMillis(100)).build();
        List<KafkaPartitionSplit> splits = source.createInitialSplits();
        KafkaSourceReader<String> reader = (KafkaSourceReader<String>) source.createReader(
                new KafkaSourceTopicRecreatedTest.Context(java.util.Set.of(splits.get(0).splitId())));
        try {
            reader.addSplits(splits);
            reader.start();
            List<String> read = new ArrayList<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (read.size() < 10) {
                assertTrue(System.nanoTime() < deadline, "read " + read);
                reader.pollNext(read::add);
            }
            try (Admin admin = kafka.createAdmin()) {
                admin.deleteTopics(List.of(prefix + "-a")).all().get(30, TimeUnit.SECONDS);
                Topics.create(admin, 2, prefix + "-b");
            }
            write(prefix + "-b", 10, 30, 2);
            while (read.size() < 30) {
                assertTrue(System.nanoTime() < deadline, "the new topic's records not read: " + read);
                reader.pollNext(read::add);
            }
            read.sort(java.util.Comparator.comparingInt(r -> Integer.parseInt(r.substring(2))));
            List<String> expected = new ArrayList<>();
            for (int i = 0; i < 30; i++) {
                expected.add("r-" + i);
            }
            assertEquals(expected, read);
        } finally {
            reader.close();
        }
    }

    @Test
    void aNewPartitionHasExactlyOneOwner() {
        for (int parallelism = 1; parallelism <= 5; parallelism++) {
            for (int partition = 0; partition < 20; partition++) {
                int owner = KafkaSourceReader.owner(new TopicPartition("grow", partition), parallelism);
                assertTrue(owner >= 0 && owner < parallelism, owner + " of " + parallelism);
                assertEquals((KafkaSourceReader.owner(new TopicPartition("grow", 0), parallelism) + partition)
                        % parallelism, owner, "a topic's partitions go round the subtasks");
            }
        }
    }

    @Test
    void theDiscoveryIntervalIsValidatedAndFlinksPropertyIsUnderstood() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> KafkaSource.<String>builder()
                .setBootstrapServers("localhost:9092").setTopics("t")
                .setDeserializer(KafkaRecordDeserializer.utf8Values())
                .setProperty(KafkaSourceBuilder.PARTITION_DISCOVERY_INTERVAL_MS, "5 minutes").build());
        assertTrue(e.getMessage().contains("partition.discovery.interval.ms must be a number of milliseconds")
                && e.getMessage().contains("'5 minutes'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> KafkaSource.<String>builder()
                .setBootstrapServers("localhost:9092").setTopics("t")
                .setDeserializer(KafkaRecordDeserializer.utf8Values())
                .setPartitionDiscoveryInterval(Duration.ofSeconds(-1)).build());
        assertTrue(e.getMessage().contains("must not be negative"), e.getMessage());
        KafkaSource<String> source = KafkaSource.<String>builder().setBootstrapServers("localhost:9092").setTopics("t")
                .setDeserializer(KafkaRecordDeserializer.utf8Values())
                .setProperty(KafkaSourceBuilder.PARTITION_DISCOVERY_INTERVAL_MS, "10000").build();
        assertEquals(Duration.ofSeconds(10), source.partitionDiscoveryInterval());
        assertTrue(!source.consumerProperties(new KafkaSourceTest.ReaderContext(0, 1, "kafka", "job"))
                .containsKey(KafkaSourceBuilder.PARTITION_DISCOVERY_INTERVAL_MS), "not passed on to the consumer");
    }
}
