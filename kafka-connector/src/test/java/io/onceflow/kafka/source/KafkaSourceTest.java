package io.onceflow.kafka.source;

import io.onceflow.kafka.broker.KafkaBrokerLauncher;
import io.onceflow.kafka.broker.RunningKafkaBroker;
import io.onceflow.kafka.broker.Topics;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.JobExecutionException;
import io.onceflow.api.JobMetrics;
import io.onceflow.api.RestartStrategies;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.kafka.testing.KafkaTestCluster;
import io.onceflow.testing.CommittedStore;
import io.onceflow.runtime.fault.FaultInjector;
import io.onceflow.runtime.fault.FaultPoint;
import io.onceflow.testing.InjectedFailure;
import io.onceflow.testing.RunningCount;
import io.onceflow.testing.SequenceChecker;
import io.onceflow.testing.TransactionalTestSink;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The Kafka source against a real broker; what it emitted is checked through a transactional test sink. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class KafkaSourceTest {

    @RegisterExtension
    static final KafkaTestCluster kafka = new KafkaTestCluster();

    private static String topic(int partitions) throws Exception {
        return kafka.createTopic("src", partitions);
    }

    private static KafkaProducer<String, String> producer(String transactionalId) {
        Properties p = kafka.clientProperties();
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        if (transactionalId != null) {
            p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        }
        KafkaProducer<String, String> producer = new KafkaProducer<>(p);
        if (transactionalId != null) {
            producer.initTransactions();
        }
        return producer;
    }

    /** Writes "key-(i % keys)" for i in [from, to), keyed so each key stays in one partition. */
    private static void write(KafkaProducer<String, String> producer, String topic, int from, int to, int keys) {
        for (int i = from; i < to; i++) {
            String word = "key-" + (i % keys);
            producer.send(new ProducerRecord<>(topic, word, word));
        }
    }

    private static KafkaSourceBuilder<String> source(String topic) {
        return KafkaSource.<String>builder().setBootstrapServers(kafka.bootstrapServers()).setTopics(topic)
                .setDeserializer(KafkaRecordDeserializer.utf8Values());
    }

    private static List<String> runToList(KafkaSource<String> source, int parallelism) throws Exception {
        CommittedStore store = CommittedStore.inMemory();
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(parallelism);
        env.setRestartStrategy(RestartStrategies.noRestart());
        env.fromSource(source, "kafka").uid("kafka").sinkTo(new TransactionalTestSink(store)).uid("sink");
        env.execute("read-" + UUID.randomUUID());
        return store.readAll();
    }

    @Test
    void boundedReadSeesOnlyCommittedRecordsAndEndsAfterTheLastMarker() throws Exception {
        String topic = topic(4);
        try (KafkaProducer<String, String> p = producer("writer-" + topic)) {
            p.beginTransaction();
            write(p, topic, 0, 100, 20);
            p.commitTransaction();
            p.beginTransaction();
            write(p, topic, 1000, 1050, 20);
            p.abortTransaction();
            p.beginTransaction();
            write(p, topic, 100, 200, 20);
            p.commitTransaction();
        }
        List<String> read = runToList(source(topic).setBounded().build(), 2);
        assertEquals(200, read.size(), "exactly the committed records, none of the aborted ones");
        Map<String, Long> counts = new HashMap<>();
        read.forEach(w -> counts.merge(w, 1L, Long::sum));
        for (int k = 0; k < 20; k++) {
            assertEquals(10L, counts.get("key-" + k));
        }
    }

    @Test
    void boundedReadStopsAtTheLastStableOffsetWhileATransactionIsOpen() throws Exception {
        String topic = topic(2);
        try (KafkaProducer<String, String> committed = producer("committed-" + topic);
             KafkaProducer<String, String> open = producer("open-" + topic)) {
            committed.beginTransaction();
            write(committed, topic, 0, 40, 4);
            committed.commitTransaction();
            open.beginTransaction();
            write(open, topic, 40, 60, 4);
            open.flush();
            List<String> read = runToList(source(topic).setBounded().build(), 1);
            assertEquals(40, read.size(), "the open transaction's records are beyond the end of a bounded read");
            open.abortTransaction();
        }
    }

    @Test
    void startingOffsets() throws Exception {
        String topic = topic(1);
        long middle;
        try (KafkaProducer<String, String> p = producer(null)) {
            write(p, topic, 0, 10, 10);
            p.flush();
            Thread.sleep(20);
            middle = System.currentTimeMillis();
            Thread.sleep(20);
            write(p, topic, 10, 15, 100);
            p.flush();
        }
        assertEquals(0, runToList(source(topic).setBounded().setStartingOffsets(OffsetsInitializer.latest()).build(), 1).size());
        assertEquals(List.of("key-10", "key-11", "key-12", "key-13", "key-14"),
                runToList(source(topic).setBounded().setStartingOffsets(OffsetsInitializer.timestamp(middle)).build(), 1));
        TopicPartition tp = new TopicPartition(topic, 0);
        assertEquals(List.of("key-13", "key-14"), runToList(source(topic).setBounded()
                .setStartingOffsets(OffsetsInitializer.offsets(Map.of(tp, 13L), OffsetsInitializer.ResetStrategy.NONE)).build(), 1));

        String group = "group-" + topic;
        try (Admin admin = kafka.createAdmin()) {
            admin.alterConsumerGroupOffsets(group, Map.of(tp, new OffsetAndMetadata(12))).all().get(30, TimeUnit.SECONDS);
        }
        assertEquals(List.of("key-12", "key-13", "key-14"), runToList(source(topic).setBounded().setGroupId(group)
                .setStartingOffsets(OffsetsInitializer.committedOffsets(OffsetsInitializer.ResetStrategy.NONE)).build(), 1));
        JobExecutionException e = assertThrows(JobExecutionException.class, () -> runToList(source(topic).setBounded()
                .setGroupId("no-offsets-" + topic)
                .setStartingOffsets(OffsetsInitializer.committedOffsets(OffsetsInitializer.ResetStrategy.NONE)).build(), 1));
        assertTrue(e.getMessage().contains("reset strategy is NONE"), e.getMessage());
    }

    @Test
    void offsetsAreCommittedToTheGroupWhenCheckpointsComplete() throws Exception {
        String topic = topic(2);
        try (KafkaProducer<String, String> p = producer(null)) {
            write(p, topic, 0, 50, 5);
        }
        String group = "monitor-" + topic;
        runToList(source(topic).setBounded().setGroupId(group).build(), 2);
        try (Admin admin = kafka.createAdmin()) {
            Map<TopicPartition, OffsetAndMetadata> offsets = admin.listConsumerGroupOffsets(group)
                    .partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
            long total = offsets.values().stream().mapToLong(OffsetAndMetadata::offset).sum();
            assertEquals(50, total, "the group's offsets are the end of the read: " + offsets);
        }
    }

    static final AtomicInteger FAILURES = new AtomicInteger();

    @Test
    void restoredReadersResumeAtTheirCheckpointedOffsets() throws Exception {
        String topic = topic(4);
        int keys = 100;
        int total = 20_000;
        try (KafkaProducer<String, String> p = producer(null)) {
            write(p, topic, 0, total, keys);
        }
        FAILURES.set(0);
        CommittedStore store = CommittedStore.inMemory();
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(2);
        env.enableCheckpointing(Duration.ofMillis(30));
        env.getCheckpointConfig().setCheckpointStorage("memory:"); // repeats output only after a process restart
        env.setRestartStrategy(RestartStrategies.fixedDelay(10, Duration.ZERO));
        env.setChannelBuffers(16, 2);
        env.setFaultInjector(new FaultInjector() {
            private int snapshots;

            @Override
            public synchronized void at(FaultPoint point, String uid, int subtask, long checkpointId) {
                if (point == FaultPoint.AFTER_SNAPSHOT && "kafka".equals(uid) && ++snapshots % 5 == 0
                        && FAILURES.get() < 4) {
                    FAILURES.incrementAndGet();
                    throw new InjectedFailure("after snapshot of checkpoint " + checkpointId);
                }
            }
        });
        env.fromSource(source(topic).setBounded().build(), "kafka").uid("kafka")
                .map(w -> {
                    Thread.sleep(0, 50_000);
                    return w;
                }).uid("slow")
                .keyBy(w -> w)
                .process(new RunningCount()).uid("count")
                .sinkTo(new TransactionalTestSink(store)).uid("sink");
        JobMetrics metrics = env.execute("kafka-restore-" + topic);
        assertTrue(metrics.numRestarts() >= 2, "restarts: " + metrics.numRestarts());
        Map<String, Long> expected = new HashMap<>();
        for (int k = 0; k < keys; k++) {
            expected.put("key-" + k, (long) total / keys);
        }
        SequenceChecker.Result result = SequenceChecker.check(store.readAll(), expected);
        assertTrue(result.exact(), "after " + metrics.numRestarts() + " restarts: " + result);
    }

    private static void deleteBefore(String topic, long offset) throws Exception {
        try (Admin admin = kafka.createAdmin()) {
            admin.deleteRecords(Map.of(new TopicPartition(topic, 0),
                    org.apache.kafka.clients.admin.RecordsToDelete.beforeOffset(offset))).all().get(30, TimeUnit.SECONDS);
        }
    }

    private static StreamEnvironment copyJob(KafkaSource<String> source, CommittedStore store, java.nio.file.Path checkpoints) {
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(1);
        env.enableCheckpointing(Duration.ofSeconds(30));
        env.getCheckpointConfig().setCheckpointStorage(checkpoints.toUri().toString());
        env.setRestartStrategy(RestartStrategies.fixedDelay(3, Duration.ZERO));
        env.fromSource(source, "kafka").uid("kafka").sinkTo(new TransactionalTestSink(store)).uid("sink");
        return env;
    }

    private static void await(java.util.function.BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Thread.sleep(20);
        }
    }

    @Test
    void inputDeletedWhileTheJobWasDownStopsItWithHowManyRecordsAreGoneUnlessTheLossIsAccepted(
            @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        String topic = topic(1);
        try (KafkaProducer<String, String> p = producer(null)) {
            write(p, topic, 0, 100, 100);
        }
        java.nio.file.Path checkpoints = dir.resolve("checkpoints");
        // one store for all runs: a restore commits the restored checkpoint's transactions again (idempotently)
        CommittedStore store = CommittedStore.inMemory();
        io.onceflow.api.JobClient job = copyJob(source(topic).build(), store, checkpoints).executeAsync("deleted-" + topic);
        await(() -> job.getMetrics().numRecordsIn() >= 100, "the first 100 records read");
        long checkpoint = job.stop(Duration.ofSeconds(30));
        assertEquals(100, store.readAll().size());

        // while the job is down, 100 more arrive and retention removes everything below offset 150
        try (KafkaProducer<String, String> p = producer(null)) {
            write(p, topic, 100, 200, 100);
        }
        deleteBefore(topic, 150);

        io.onceflow.api.JobClient failing = copyJob(source(topic).build(), store, checkpoints)
                .executeAsync("deleted-" + topic);
        JobExecutionException e = assertThrows(JobExecutionException.class, () -> failing.awaitTermination(Duration.ofSeconds(60)));
        assertEquals(0, failing.getMetrics().numRestarts(), "no restart loop: a restart would meet the same gap");
        assertTrue(e.getMessage().contains("partition " + topic + "-0 must resume at offset 100 (from checkpoint " + checkpoint)
                        && e.getMessage().contains("the log now starts at offset 150")
                        && e.getMessage().contains("50 record(s) were deleted before this job read them")
                        && e.getMessage().contains("setOffsetOutOfRangePolicy(OffsetOutOfRangePolicy.EARLIEST)"),
                e.getMessage());

        io.onceflow.api.JobClient going = copyJob(source(topic).setOffsetOutOfRangePolicy(OffsetOutOfRangePolicy.EARLIEST)
                .build(), store, checkpoints).executeAsync("deleted-" + topic);
        await(() -> going.getMetrics().numRecordsIn() >= 50, "the 50 records still on the broker read");
        going.stop(Duration.ofSeconds(30));
        List<String> expected = new java.util.ArrayList<>();
        for (int i = 0; i < 200; i++) {
            if (i < 100 || i >= 150) {
                expected.add("key-" + (i % 100));
            }
        }
        List<String> read = new java.util.ArrayList<>(store.readAll());
        java.util.Collections.sort(read);
        java.util.Collections.sort(expected);
        assertEquals(expected, read, "went on from the log start (offset 150), never from the end");
        assertEquals(50L, going.getCounters().get("kafka.recordsLostToOffsetReset"), going.getCounters().toString());
    }

    @Test
    void aStartingOffsetBelowTheLogStartFailsTooAndIsNeverReplacedByTheEnd() throws Exception {
        String topic = topic(1);
        try (KafkaProducer<String, String> p = producer(null)) {
            write(p, topic, 0, 100, 100);
        }
        deleteBefore(topic, 60);
        TopicPartition tp = new TopicPartition(topic, 0);
        KafkaSourceBuilder<String> from10 = source(topic).setBounded()
                .setStartingOffsets(OffsetsInitializer.offsets(Map.of(tp, 10L), OffsetsInitializer.ResetStrategy.NONE));
        JobExecutionException e = assertThrows(JobExecutionException.class, () -> runToList(from10.build(), 1));
        assertTrue(e.getMessage().contains("must resume at offset 10 (from its starting offsets")
                && e.getMessage().contains("50 record(s) were deleted"), e.getMessage());
        List<String> read = runToList(from10.setOffsetOutOfRangePolicy(OffsetOutOfRangePolicy.EARLIEST).build(), 1);
        assertEquals(40, read.size(), "offsets 60..99, all that is left: " + read);
        assertEquals("key-60", read.get(0));
    }

    @Test
    void autoOffsetResetIsManagedByTheSource() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> source("t").setProperty("auto.offset.reset", "latest").build());
        assertTrue(e.getMessage().contains("auto.offset.reset is managed by the source"), e.getMessage());
        assertEquals("false", source("t").build().consumerProperties(new ReaderContext(0, 1, "kafka", "job"))
                .get("allow.auto.create.topics"), "a source's consumer does not create its topics");
        assertEquals("true", source("t").setProperty("allow.auto.create.topics", "true").build()
                .consumerProperties(new ReaderContext(0, 1, "kafka", "job")).get("allow.auto.create.topics"));
    }

    @Test
    void aBoundedReadWithMoreSubtasksThanPartitionsEnds() throws Exception {
        String topic = topic(2);
        try (KafkaProducer<String, String> p = producer(null)) {
            write(p, topic, 0, 1_000, 10);
        }
        assertEquals(1_000, runToList(source(topic).setBounded().build(), 4).size(),
                "the two subtasks without a partition end at once, so the final checkpoint can come");
    }

    /**
     * Under read_committed a reader stops where a transaction still open begins, and its lag says 0: the looks count
     * the records waiting behind it, and one held at the same offset for too long is reported as maybe hanging.
     */
    @Test
    void recordsHeldBehindAnOpenTransactionAreCountedAndALongHoldIsReported() throws Exception {
        String topic = topic(1);
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaProducer<String, String> p = producer(null)) {
            write(p, topic, 0, 10, 10);
        }
        KafkaSource<String> source = source(topic).setPartitionDiscoveryInterval(Duration.ofMillis(100)).build();
        List<KafkaPartitionSplit> splits = source.createInitialSplits();
        KafkaSourceReader<String> reader = (KafkaSourceReader<String>) source.createReader(
                new KafkaSourceTopicRecreatedTest.Context(Set.of(splits.get(0).splitId())));
        reader.setHeldWarning(Duration.ofMillis(1500));
        try (KafkaProducer<String, String> open = producer("held-" + topic)) {
            open.beginTransaction();
            write(open, topic, 10, 11, 10);
            open.flush();
            try (KafkaProducer<String, String> p = producer(null)) {
                write(p, topic, 11, 16, 10); // after the open transaction's record: held back with it
            }
            reader.addSplits(splits);
            reader.start();
            List<String> read = new ArrayList<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!Long.valueOf(6).equals(reader.heldRecords().get(tp))) {
                assertTrue(System.nanoTime() < deadline, "held: " + reader.heldRecords() + ", read " + read);
                reader.pollNext(read::add);
            }
            assertEquals(written(10, 10), read, "read up to the open transaction, no further");
            assertEquals(Set.of(), reader.heldTooLong(), "not yet held for long");
            long seen = System.nanoTime();
            while (reader.heldTooLong().isEmpty()) {
                assertTrue(System.nanoTime() < deadline, "no warning after 1.5 s held at the same offset");
                reader.pollNext(read::add);
            }
            assertEquals(Set.of(tp), reader.heldTooLong());
            assertTrue(System.nanoTime() - seen >= TimeUnit.SECONDS.toNanos(1), "warned before it was held 1.5 s");

            open.commitTransaction();
            while (read.size() < 16 || !Long.valueOf(0).equals(reader.heldRecords().get(tp))) {
                assertTrue(System.nanoTime() < deadline, "held: " + reader.heldRecords() + ", read " + read);
                reader.pollNext(read::add);
            }
            assertEquals(written(16, 10), read);
            assertEquals(Set.of(), reader.heldTooLong(), "no longer held");
        } finally {
            reader.close();
        }
    }

    /** A bounded reader restored with only partitions of a topic its source no longer reads has nothing to read. */
    @Test
    void aBoundedReaderWhoseTopicWasTakenOutOfTheSourceEnds() throws Exception {
        String kept = topic(1);
        String removed = topic(1);
        try (KafkaProducer<String, String> p = producer(null)) {
            write(p, removed, 0, 20, 5);
        }
        KafkaSourceReader<String> reader = (KafkaSourceReader<String>) source(kept).setBounded().build().createReader(
                new ReaderContext(0, 1, "source", "removed-" + removed));
        try {
            reader.addSplits(List.of(new KafkaPartitionSplit(removed, 0, 5, 20, null)));
            reader.start();
            List<String> read = new ArrayList<>();
            assertEquals(io.onceflow.api.source.InputStatus.END_OF_INPUT, reader.pollNext(read::add));
            assertEquals(List.of(), read);
            assertEquals(List.of(new KafkaPartitionSplit(removed, 0, 5, 20, null)), reader.snapshotState(1),
                    "its position kept for the topic's return");
        } finally {
            reader.close();
        }
    }

    @Test
    void aBoundedReadResumedAtAHigherParallelismEnds(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        String topic = topic(2);
        try (KafkaProducer<String, String> p = producer(null)) {
            write(p, topic, 0, 4_000, 40);
        }
        java.nio.file.Path checkpoints = dir.resolve("checkpoints");
        CommittedStore store = CommittedStore.inMemory();
        StreamEnvironment first = copyJob(source(topic).setBounded().build(), store, checkpoints);
        first.setParallelism(2);
        // slow enough to stop midway
        io.onceflow.api.JobClient job = first.executeAsync("rescaled-" + topic);
        await(() -> job.getMetrics().numRecordsIn() > 0, "some records read");
        job.stop(Duration.ofSeconds(30));
        long firstRun = store.readAll().size();

        StreamEnvironment second = copyJob(source(topic).setBounded().build(), store, checkpoints);
        second.setParallelism(4);
        io.onceflow.api.JobClient resumed = second.executeAsync("rescaled-" + topic);
        assertEquals(io.onceflow.api.JobStatus.FINISHED, resumed.awaitTermination(Duration.ofSeconds(60)),
                "subtasks 2 and 3 restore no partition and end");
        assertEquals(4_000, store.readAll().size(), "first run " + firstRun + ", then the rest");
    }

    /** A source subtask's context for driving a reader without a runtime. */
    record ReaderContext(int getIndexOfSubtask, int getParallelism, String getOperatorUid, String getJobName)
            implements io.onceflow.api.source.SourceReaderContext {
    }

    /** A topic of one partition holding {@code written(50, 5)}. */
    private static String topicOf50() throws Exception {
        String topic = topic(1);
        try (KafkaProducer<String, String> p = producer(null)) {
            write(p, topic, 0, 50, 5);
            p.flush();
        }
        return topic;
    }

    /** Starts {@code reader} on {@code splits} and lets it fetch ahead until it holds records. */
    private static void startAndFetchAhead(KafkaSourceReader<String> reader, List<KafkaPartitionSplit> splits,
                                           long deadline) throws Exception {
        reader.addSplits(splits);
        reader.start();
        while (!reader.hasFetchedAhead()) {
            assertTrue(System.nanoTime() < deadline, "the records were fetched ahead");
            reader.prefetch();
            Thread.sleep(2);
        }
    }

    /** What {@link #write} wrote for {@code [0, n)}, in order. */
    private static List<String> written(int n, int keys) {
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            expected.add("key-" + (i % keys));
        }
        return expected;
    }

    /**
     * After a restore the early first checkpoint is triggered as the source emits its first record, and the trigger
     * makes the reader return at once: that checkpoint holds that one record, though the first poll brought a
     * backlog, so the cold code downstream has little to do before the first output after a restart is committed.
     */
    @Test
    void theFirstCheckpointAfterARestoreHoldsOnlyTheFirstRecordOfTheBacklog(@org.junit.jupiter.api.io.TempDir
                                                                           java.nio.file.Path dir) throws Exception {
        String topic = topic(1);
        CommittedStore store = CommittedStore.inDirectory(dir.resolve("out"));
        java.nio.file.Path checkpoints = dir.resolve("checkpoints");
        try (KafkaProducer<String, String> p = producer(null)) {
            write(p, topic, 0, 2_000, 5);
            p.flush();
            io.onceflow.api.JobClient first = copyJob(source(topic).build(), store, checkpoints).executeAsync("backlog");
            await(() -> first.getMetrics().numRecordsIn() >= 2_000, "the first run read everything");
            long stoppedAt = first.stop(Duration.ofSeconds(30));
            write(p, topic, 2_000, 6_000, 5); // the backlog while the job is down
            p.flush();
            io.onceflow.api.JobClient second = copyJob(source(topic).build(), store, checkpoints).executeAsync("backlog");
            try {
                java.nio.file.Path early = dir.resolve("out").resolve("sink-0-" + (stoppedAt + 1) + ".txt");
                await(() -> java.nio.file.Files.exists(early), "the early checkpoint after the restore committed");
                assertEquals(List.of("key-0"), java.nio.file.Files.readAllLines(early),
                        "the early checkpoint holds the backlog's first record only");
                await(() -> second.getMetrics().numRecordsIn() >= 4_000, "the second run read the backlog");
                second.stop(Duration.ofSeconds(30));
            } finally {
                second.cancel();
            }
        }
        Map<String, Long> expected = new HashMap<>();
        for (int k = 0; k < 5; k++) {
            expected.put("key-" + k, 1_200L);
        }
        Map<String, Long> counted = new HashMap<>();
        store.readAll().forEach(w -> counted.merge(w, 1L, Long::sum));
        assertEquals(expected, counted, "every record once");
    }

    /**
     * A reader whose task has mail (a checkpoint's trigger) returns after the record it emitted, though its poll
     * brought more: the barrier goes out behind that record, and the position in the snapshot is just past it.
     */
    @Test
    void aReaderAskedToYieldReturnsAfterTheRecordItEmittedAndItsPositionIsJustPastIt() throws Exception {
        String topic = topicOf50();
        KafkaSource<String> source = source(topic).setBounded().build();
        KafkaSourceReader<String> reader = (KafkaSourceReader<String>) source.createReader(
                new ReaderContext(0, 1, "source", "yield-" + topic));
        try {
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(20);
            startAndFetchAhead(reader, source.createInitialSplits(), deadline);
            List<String> read = new ArrayList<>();
            io.onceflow.api.source.ReaderOutput<String> yielding = new io.onceflow.api.source.ReaderOutput<>() {
                @Override
                public void collect(String record) {
                    read.add(record);
                }

                @Override
                public boolean shouldYield() {
                    return true;
                }
            };
            assertEquals(io.onceflow.api.source.InputStatus.MORE_AVAILABLE, reader.pollNext(yielding));
            assertEquals(List.of("key-0"), read, "one record, though its poll brought more");
            assertEquals(1, reader.snapshotState(1).get(0).nextOffset(), "the position is just past that record");
            assertEquals(io.onceflow.api.source.InputStatus.MORE_AVAILABLE, reader.pollNext(yielding));
            assertEquals(List.of("key-0", "key-1"), read);
            readToEnd(reader, read, deadline);
            assertEquals(written(50, 5), read, "then the rest, every record once, in order");
        } finally {
            reader.close();
        }
    }

    /** An unbounded reader of {@code splits}, started, whose polls wait up to {@code pollTimeout} unless woken. */
    private static KafkaSourceReader<String> startedReader(String topic, List<KafkaPartitionSplit> splits,
                                                           Duration pollTimeout) {
        KafkaSourceReader<String> reader = (KafkaSourceReader<String>) source(topic).build().createReader(
                new ReaderContext(0, 1, "source", "wake-" + topic));
        reader.setPollTimeout(pollTimeout);
        reader.addSplits(splits);
        reader.start();
        return reader;
    }

    /** Reads a bounded reader of the 50-record topic to its end, adding what it emits to {@code read}. */
    private static void readToEnd(KafkaSourceReader<String> reader, List<String> read, long deadline) throws Exception {
        while (reader.pollNext(read::add) != io.onceflow.api.source.InputStatus.END_OF_INPUT) {
            assertTrue(System.nanoTime() < deadline, "read " + read.size() + " of 50");
        }
    }

    /**
     * A checkpoint's trigger does not wait for a poll of an idle partition: {@code wakeUp()} (which the task calls
     * as the trigger arrives) ends the poll, whose timeout here is far longer than the test may take.
     */
    @Test
    void aPollWaitingOnAnIdlePartitionReturnsWhenTheReaderIsWoken() throws Exception {
        String topic = topic(1);
        List<KafkaPartitionSplit> splits = source(topic).build().createInitialSplits();
        KafkaSourceReader<String> reader = startedReader(topic, splits, Duration.ofMinutes(10));
        assertWokenWithNothing(reader);
        assertEquals(1, reader.wokenPolls());
        assertEquals(splits, reader.snapshotState(1), "nothing was read, so no position moved");
        reader.close();
    }

    /**
     * {@code recordsLag}: no partition is asked for its end before a poll returns records (the consumer would send a
     * request for each, poll after poll, while the first fetch is on its way) or the lag ask interval has passed; a
     * partition's lag then comes from the fetches, counting down to 0 as its records are read, and that of a
     * partition with nothing to read is 0 (asked at every poll from then on, the interval still ten minutes away).
     */
    @Test
    void lagIsTakenFromTheFetchesOnceRecordsCome() throws Exception {
        String topic = topic(2);
        TopicPartition full = new TopicPartition(topic, 0);
        TopicPartition empty = new TopicPartition(topic, 1);
        KafkaSourceReader<String> reader = (KafkaSourceReader<String>) source(topic).setProperty("max.poll.records",
                "50").build().createReader(new ReaderContext(0, 1, "source", "lag-" + topic));
        reader.setLagAskInterval(Duration.ofMinutes(10));
        reader.addSplits(source(topic).build().createInitialSplits());
        reader.start();
        List<String> read = new ArrayList<>();
        long quiet = System.nanoTime() + TimeUnit.SECONDS.toNanos(3); // time for fetches and for an answer to an ask
        while (System.nanoTime() < quiet) {
            reader.pollNext(read::add); // the fetches of two empty partitions: nothing to return
        }
        assertEquals(Map.of(), reader.lag(), "no partition asked before records or the interval");
        try (KafkaProducer<String, String> p = producer(null)) {
            for (int i = 0; i < 300; i++) {
                p.send(new ProducerRecord<>(topic, 0, "k", "v" + i));
            }
            p.flush();
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (read.isEmpty()) {
            assertTrue(System.nanoTime() < deadline, "records were read");
            reader.pollNext(read::add);
        }
        Long first = reader.lag().get(full);
        assertTrue(first != null && first > 0 && first <= 300 - read.size(),
                "lag after the first poll of " + read.size() + " records: " + reader.lag());
        while (read.size() < 300 || !Map.of(full, 0L, empty, 0L).equals(reader.lag())) {
            assertTrue(System.nanoTime() < deadline, "read " + read.size() + ", lag " + reader.lag());
            reader.pollNext(read::add);
        }
        assertEquals(300, read.size());
        reader.close();
    }

    /** A reader with nothing to read asks for its partitions' lag once the interval has passed: 0. */
    @Test
    void theLagOfAReaderWithNothingToReadIsAskedAfterTheInterval() throws Exception {
        String topic = topic(1);
        KafkaSourceReader<String> reader = startedReader(topic, source(topic).build().createInitialSplits(),
                Duration.ofMillis(10));
        reader.setLagAskInterval(Duration.ZERO);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Map.of(new TopicPartition(topic, 0), 0L).equals(reader.lag())) {
            assertTrue(System.nanoTime() < deadline, "lag " + reader.lag());
            reader.pollNext(r -> { });
        }
        reader.close();
    }

    /**
     * A blocking consumer call that wakeups left from polls end is made again, as often as a few are left (a trigger
     * held up between seeing the poll and calling {@code wakeup()} can leave one during the call made again); a
     * wakeup that keeps coming is not taken for ever.
     */
    @Test
    void aCallEndedByWakeupsLeftFromPollsIsMadeAgain() {
        int[] calls = {0};
        assertEquals(7, KafkaSourceReader.unwoken(() -> {
            if (calls[0]++ < 2) {
                throw new org.apache.kafka.common.errors.WakeupException();
            }
            return 7;
        }));
        assertEquals(3, calls[0], "two wakeups taken, then the answer");
        calls[0] = 0;
        assertThrows(org.apache.kafka.common.errors.WakeupException.class, () -> KafkaSourceReader.unwoken(() -> {
            calls[0]++;
            throw new org.apache.kafka.common.errors.WakeupException();
        }));
        assertEquals(5, calls[0], "given up after five tries");
    }

    /**
     * A checkpoint's completion commits the offsets to the consumer group (for monitoring), which first looks the
     * group's coordinator up while it is unknown (the reader's first commit). With the broker out of reach that
     * lookup waits for metadata, a blocking call that a wakeup left in the consumer (by a trigger that came as a poll
     * returned) ends at once. That must not fail the task (it did once, in the demo): the commit is made again, and
     * the reader goes on.
     */
    @Test
    void aWakeupLeftFromAPollDoesNotFailTheCommitOfACompletedCheckpoint() throws Exception {
        try (RunningKafkaBroker own = new KafkaBrokerLauncher().maxHeap("256m").start()) {
            String topic = "woken-commit";
            try (Admin admin = Admin.create(Map.of("bootstrap.servers", own.bootstrapServers()))) {
                Topics.create(admin, 1, topic);
            }
            // read from the earliest offsets, not the group's, so that nothing asks for the group's coordinator
            // before the commit; a reconnection held off long enough that the broker stays out of reach meanwhile
            KafkaSource<String> source = KafkaSource.<String>builder().setBootstrapServers(own.bootstrapServers())
                    .setTopics(topic).setDeserializer(KafkaRecordDeserializer.utf8Values()).setGroupId("woken")
                    .setStartingOffsets(OffsetsInitializer.earliest())
                    .setProperty("reconnect.backoff.ms", "60000").setProperty("reconnect.backoff.max.ms", "60000")
                    .build();
            KafkaSourceReader<String> reader = (KafkaSourceReader<String>) source.createReader(
                    new ReaderContext(0, 1, "source", "woken-commit"));
            try {
                reader.setPollTimeout(Duration.ofMillis(50));
                reader.addSplits(source.createInitialSplits());
                reader.start();
                for (int i = 0; i < 5; i++) {
                    reader.pollNext(r -> { });
                }
                reader.snapshotState(1);
                own.stop();
                for (int i = 0; i < 10; i++) {
                    reader.pollNext(r -> { }); // the consumer finds its connection gone
                }
                reader.leaveWakeup();
                reader.notifyCheckpointComplete(1);
                reader.pollNext(r -> { }); // and reads on
            } finally {
                reader.close();
            }
        }
    }

    /** The same for a subtask without partitions (more subtasks than partitions): its wait for nothing ends too. */
    @Test
    void aReaderWithoutPartitionsReturnsWhenWoken() throws Exception {
        KafkaSourceReader<String> reader = startedReader(topic(1), List.of(), Duration.ofMinutes(10));
        assertWokenWithNothing(reader);
        assertEquals(List.of(), reader.snapshotState(1));
        reader.close();
    }

    /**
     * Calls {@code pollNext} on another thread and wakes the reader until it returns: it must return within a minute
     * (its polls wait ten), having emitted nothing.
     */
    private static void assertWokenWithNothing(KafkaSourceReader<String> reader) throws Exception {
        List<String> read = new java.util.concurrent.CopyOnWriteArrayList<>();
        java.util.concurrent.CompletableFuture<io.onceflow.api.source.InputStatus> polled =
                java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                    try {
                        return reader.pollNext(read::add);
                    } catch (Exception e) {
                        throw new java.util.concurrent.CompletionException(e);
                    }
                });
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!polled.isDone() && System.nanoTime() < deadline) {
            reader.wakeUp(); // does nothing until the poll has begun
            Thread.sleep(20);
        }
        assertTrue(polled.isDone(), "the poll, whose timeout is 10 minutes, ended within a minute of the wakeups");
        assertEquals(io.onceflow.api.source.InputStatus.NOTHING_AVAILABLE, polled.get());
        assertEquals(List.of(), read);
    }

    /**
     * Wakeups at any moment of a steady read, as checkpoint triggers come: polls they end return nothing and lose
     * nothing, a wakeup that comes as a poll returns ends the next one, and every record is emitted once, in order.
     */
    @Test
    void wakeupsDuringASteadyReadLoseAndRepeatNothing() throws Exception {
        String topic = topic(1);
        int n = 300;
        KafkaSourceReader<String> reader = startedReader(topic, source(topic).build().createInitialSplits(),
                Duration.ofMillis(500));
        java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
        Thread writer = new Thread(() -> {
            try (KafkaProducer<String, String> p = producer(null)) {
                for (int i = 0; i < n && !done.get(); i++) {
                    write(p, topic, i, i + 1, 5);
                    p.flush();
                    Thread.sleep(2);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "test writer");
        Thread waker = new Thread(() -> {
            while (!done.get()) {
                reader.wakeUp();
                java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(3));
            }
        }, "test waker");
        writer.start();
        waker.start();
        List<String> read = new ArrayList<>();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
            while (read.size() < n) {
                assertTrue(System.nanoTime() < deadline, "read " + read.size() + " of " + n);
                reader.pollNext(read::add);
            }
        } finally {
            done.set(true);
            writer.join();
            waker.join();
            reader.close();
        }
        assertEquals(written(n, 5), read, "every record once, in order");
        assertEquals(n, reader.snapshotState(1).get(0).nextOffset());
        assertTrue(reader.wokenPolls() > 0, "some polls were ended by a wakeup");
    }

    @Test
    void aReaderFetchesAheadWhileTheJobStartsButEmitsAndMovesNothingUntilItReads() throws Exception {
        String topic = topicOf50();
        KafkaSource<String> source = source(topic).setBounded().build();
        List<KafkaPartitionSplit> splits = source.createInitialSplits();
        KafkaSourceReader<String> reader = (KafkaSourceReader<String>) source.createReader(
                new ReaderContext(0, 1, "source", "prefetch-" + topic));
        try {
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(20);
            startAndFetchAhead(reader, splits, deadline);
            assertEquals(splits, reader.snapshotState(1), "fetching ahead moves no position: nothing was emitted");
            List<String> read = new ArrayList<>();
            readToEnd(reader, read, deadline);
            assertEquals(written(50, 5), read, "every record once, in order, the ones fetched ahead first");
        } finally {
            reader.close();
        }
    }

    @Test
    void builderSaysWhatIsMissing() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> KafkaSource.<String>builder().setStartingOffsets(
                        OffsetsInitializer.committedOffsets(OffsetsInitializer.ResetStrategy.EARLIEST)).build());
        assertTrue(e.getMessage().contains("no bootstrap servers"), e.getMessage());
        assertTrue(e.getMessage().contains("no topics"), e.getMessage());
        assertTrue(e.getMessage().contains("no deserializer"), e.getMessage());
        assertTrue(e.getMessage().contains("needs a group id"), e.getMessage());
    }

    @Test
    void aTopicPatternReadsEveryMatchingTopicAndNoOther() throws Exception {
        String prefix = "pattern-" + UUID.randomUUID().toString().substring(0, 8);
        try (Admin admin = kafka.createAdmin()) {
            Topics.create(admin, 2, prefix + "-a");
            Topics.create(admin, 1, prefix + "-b", prefix + "x-c");
        }
        try (KafkaProducer<String, String> p = producer(null)) {
            write(p, prefix + "-a", 0, 30, 3);
            write(p, prefix + "-b", 100, 120, 200);
            write(p, prefix + "x-c", 500, 510, 1000);
        }
        List<String> read = runToList(KafkaSource.<String>builder().setBootstrapServers(kafka.bootstrapServers())
                .setTopicPattern(java.util.regex.Pattern.compile(java.util.regex.Pattern.quote(prefix) + "-.*"))
                .setDeserializer(KafkaRecordDeserializer.utf8Values()).setBounded().build(), 2);
        assertEquals(50, read.size(), "30 from -a and 20 from -b, none from x-c: " + read);
        assertTrue(read.stream().noneMatch(w -> w.startsWith("key-5")), read.toString());
        JobExecutionException none = assertThrows(JobExecutionException.class, () -> runToList(KafkaSource.<String>builder()
                .setBootstrapServers(kafka.bootstrapServers()).setTopicPattern(java.util.regex.Pattern.compile(prefix + "-none-.*"))
                .setDeserializer(KafkaRecordDeserializer.utf8Values()).setBounded().build(), 1));
        assertTrue(none.getMessage().contains("No topic matches the pattern"), none.getMessage());
    }

    @Test
    void aMissingTopicIsNamed() {
        JobExecutionException e = assertThrows(JobExecutionException.class,
                () -> runToList(source("no-such-topic").setBounded().build(), 1));
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    }
}
