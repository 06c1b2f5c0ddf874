package io.onceflow.kafka.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.JobClient;
import io.onceflow.api.JobExecutionException;
import io.onceflow.api.NonRecoverableException;
import io.onceflow.api.RestartStrategies;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.api.source.InputStatus;
import io.onceflow.kafka.broker.Topics;
import io.onceflow.kafka.testing.KafkaTestCluster;
import io.onceflow.testing.CommittedStore;
import io.onceflow.testing.TransactionalTestSink;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A source topic deleted and created again under the same name, against a real broker. The new topic's offsets start
 * again at 0: read at the offsets the job had reached in the old one, the new topic's first records would be skipped
 * without a word. Each partition's offsets are kept with its topic's id, which the broker gives every topic it
 * creates, and a reader checks them before its first record.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class KafkaSourceTopicRecreatedTest {

    @RegisterExtension
    static final KafkaTestCluster kafka = new KafkaTestCluster();

    private static String topic(int partitions) throws Exception {
        return kafka.createTopic("again", partitions);
    }

    /** Deletes the topic and creates it again, empty, once the broker has finished deleting it. */
    private static void recreate(String topic, int partitions) throws Exception {
        Uuid old;
        try (Admin admin = kafka.createAdmin()) {
            old = idOf(admin, topic);
            admin.deleteTopics(List.of(topic)).all().get(30, TimeUnit.SECONDS);
        }
        createAgain(topic, partitions, old);
    }

    /** Creates the deleted topic again, once the broker has finished deleting it. */
    private static void createAgain(String topic, int partitions, Uuid old) throws Exception {
        try (Admin admin = kafka.createAdmin()) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (true) {
                try {
                    Topics.create(admin, partitions, topic);
                    break;
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException) || System.nanoTime() > deadline) {
                        throw e;
                    }
                    Thread.sleep(100); // still being deleted
                }
            }
            assertNotEquals(old, idOf(admin, topic), "the topic created again has an id of its own");
        }
    }

    private static boolean exists(Admin admin, String topic) {
        try {
            idOf(admin, topic);
            return true;
        } catch (ExecutionException e) {
            if (e.getCause() instanceof org.apache.kafka.common.errors.UnknownTopicOrPartitionException) {
                return false;
            }
            throw new AssertionError(e);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private static Uuid idOf(Admin admin, String topic) throws Exception {
        return admin.describeTopics(List.of(topic)).allTopicNames().get(30, TimeUnit.SECONDS).get(topic).topicId();
    }

    private static Uuid idOf(String topic) throws Exception {
        try (Admin admin = kafka.createAdmin()) {
            return idOf(admin, topic);
        }
    }

    /** Polls {@code reader} until {@code read} holds {@code n} records, failing the test after {@code deadline}. */
    private static void readUntil(KafkaSourceReader<String> reader, List<String> read, int n, long deadline)
            throws Exception {
        while (read.size() < n) {
            assertTrue(System.nanoTime() < deadline, "read " + read.size() + " of " + n);
            reader.pollNext(read::add);
        }
    }

    /** Writes {@code prefix}-i for i in [from, to) into partition i % partitions. */
    private static void write(String topic, String prefix, int from, int to, int partitions) {
        Properties p = kafka.clientProperties();
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            for (int i = from; i < to; i++) {
                producer.send(new ProducerRecord<>(topic, i % partitions, null, prefix + "-" + i));
            }
        }
    }

    private static KafkaSourceBuilder<String> source(String topic) {
        return KafkaSource.<String>builder().setBootstrapServers(kafka.bootstrapServers()).setTopics(topic)
                .setDeserializer(KafkaRecordDeserializer.utf8Values());
    }

    private static JobClient copy(KafkaSource<String> source, CommittedStore store, Path checkpoints, String name)
            throws Exception {
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(2);
        env.enableCheckpointing(Duration.ofMillis(100));
        env.getCheckpointConfig().setCheckpointStorage(checkpoints.toUri().toString());
        env.setRestartStrategy(RestartStrategies.fixedDelay(3, Duration.ZERO));
        env.fromSource(source, "kafka").uid("kafka").sinkTo(new TransactionalTestSink(store)).uid("sink");
        return env.executeAsync(name);
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

    private static int committed(CommittedStore store) {
        try {
            return store.readAll().size();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static List<String> records(String prefix, int from, int to) {
        List<String> list = new ArrayList<>();
        for (int i = from; i < to; i++) {
            list.add(prefix + "-" + i);
        }
        return list;
    }

    private static List<String> sorted(List<String> list) {
        List<String> copy = new ArrayList<>(list);
        Collections.sort(copy);
        return copy;
    }

    /**
     * Checkpointed at offset 50 of each old partition; the new topic holds 150 records in each when the job comes
     * back, so its offset 50 is in range and only the topic's id tells the old topic from the new.
     */
    @Test
    void aTopicCreatedAgainWhileTheJobWasDownStopsItUnlessTheNewTopicIsToBeReadFromItsStart(@TempDir Path dir)
            throws Exception {
        String topic = topic(2);
        write(topic, "old", 0, 100, 2);
        Path checkpoints = dir.resolve("checkpoints");
        // one store for all runs: a restore commits the restored checkpoint's transactions again (idempotently)
        CommittedStore store = CommittedStore.inMemory();
        JobClient first = copy(source(topic).build(), store, checkpoints, topic);
        await(() -> first.getMetrics().numRecordsIn() >= 100, "the old topic's 100 records read");
        long checkpoint = first.stop(Duration.ofSeconds(30));

        recreate(topic, 2);
        write(topic, "new", 0, 300, 2);

        JobClient failing = copy(source(topic).build(), store, checkpoints, topic);
        JobExecutionException e = assertThrows(JobExecutionException.class,
                () -> failing.awaitTermination(Duration.ofSeconds(60)));
        assertEquals(0, failing.getMetrics().numRestarts(), "no restart loop: a restart would meet the same topic");
        assertTrue(e.getMessage().contains("topic '" + topic + "'") && e.getMessage().contains("was deleted and "
                        + "created again") && e.getMessage().contains("restored from checkpoint " + checkpoint)
                        && e.getMessage().contains(" at 50) are the old topic's")
                        && e.getMessage().contains("setOffsetOutOfRangePolicy(OffsetOutOfRangePolicy.EARLIEST)"),
                e.getMessage());
        assertEquals(sorted(records("old", 0, 100)), sorted(store.readAll()), "nothing of the new topic committed");

        JobClient going = copy(source(topic).setOffsetOutOfRangePolicy(OffsetOutOfRangePolicy.EARLIEST).build(),
                store, checkpoints, topic);
        await(() -> going.getMetrics().numRecordsIn() >= 300, "the new topic's 300 records read");
        going.stop(Duration.ofSeconds(30));
        List<String> expected = records("old", 0, 100);
        expected.addAll(records("new", 0, 300));
        assertEquals(sorted(expected), sorted(store.readAll()), "the new topic read from its first offset, once");

        // its checkpoints now hold the new topic's id: a restart reads on, without a word about the old topic
        write(topic, "new", 300, 400, 2);
        JobClient third = copy(source(topic).build(), store, checkpoints, topic);
        await(() -> third.getMetrics().numRecordsIn() >= 100, "the 100 records written since read");
        third.stop(Duration.ofSeconds(30));
        expected.addAll(records("new", 300, 400));
        assertEquals(sorted(expected), sorted(store.readAll()));
    }

    /**
     * Runs a job on a topic of two partitions holding 100 records until all of them are committed and its one look
     * for partitions is past (its source looks only a second after the start), then deletes the topic and creates it
     * again with 300 records, 150 in each partition: the job's consumer reads on at offset 50 of the new topic.
     */
    private static JobClient recreatedUnder(KafkaSourceBuilder<String> source, String topic, CommittedStore store,
                                            Path checkpoints) throws Exception {
        long started = System.nanoTime();
        JobClient job = copy(source.setPartitionDiscoveryInterval(Duration.ZERO).build(), store, checkpoints, topic);
        await(() -> committed(store) == 100, "the old topic's 100 records committed");
        long lookPast = started + TimeUnit.MILLISECONDS.toNanos(2500) - System.nanoTime();
        if (lookPast > 0) {
            TimeUnit.NANOSECONDS.sleep(lookPast);
        }
        recreate(topic, 2);
        write(topic, "new", 0, 300, 2);
        return job;
    }

    /**
     * Deleted and created again while the job runs, with no look for partitions to come: the job stops, nothing read
     * of the new topic committed. Whichever comes first tells: the consumer's position out of the new topic's range
     * while it is still being written (the reader then asks for the topic's id rather than take it for the old one
     * truncated), or the next checkpoint's question once the consumer read on in it (that checkpoint is declined;
     * {@link #aCheckpointAfterRecordsOfATopicCreatedAgainIsNotConfirmed} shows it alone).
     */
    @Test
    void aTopicCreatedAgainWhileTheJobRunsStopsItWithNothingOfItCommitted(@TempDir Path dir)
            throws Exception {
        String topic = topic(2);
        write(topic, "old", 0, 100, 2);
        CommittedStore store = CommittedStore.inMemory();
        try (JobClient job = recreatedUnder(source(topic), topic, store, dir.resolve("checkpoints"))) {
            JobExecutionException e = assertThrows(JobExecutionException.class,
                    () -> job.awaitTermination(Duration.ofSeconds(60)));
            assertEquals(0, job.getMetrics().numRestarts(), "no restart loop");
            assertTrue(e.getMessage().contains("topic '" + topic + "'") && e.getMessage().contains("was deleted and "
                            + "created again") && e.getMessage().contains("noticed it while running")
                            && e.getMessage().contains("from offset 50 of " + topic + "-")
                            && e.getMessage().contains("setOffsetOutOfRangePolicy(OffsetOutOfRangePolicy.EARLIEST)"),
                    e.getMessage());
            assertEquals(sorted(records("old", 0, 100)), sorted(store.readAll()), "nothing of the new topic committed");
        }
    }

    /**
     * The same under {@link OffsetOutOfRangePolicy#EARLIEST}: the job restarts from its last checkpoint, which holds
     * nothing of the new topic, and reads the new topic from its first offset: every record of both topics once.
     */
    @Test
    void aTopicCreatedAgainWhileTheJobRunsIsReadFromItsStartAfterARestartUnderEarliest(@TempDir Path dir)
            throws Exception {
        String topic = topic(2);
        write(topic, "old", 0, 100, 2);
        CommittedStore store = CommittedStore.inMemory();
        List<String> expected = records("old", 0, 100);
        expected.addAll(records("new", 0, 300));
        try (JobClient job = recreatedUnder(source(topic).setOffsetOutOfRangePolicy(OffsetOutOfRangePolicy.EARLIEST),
                topic, store, dir.resolve("checkpoints"))) {
            await(() -> committed(store) >= 400, "400 records committed");
            job.stop(Duration.ofSeconds(30));
            assertEquals(sorted(expected), sorted(store.readAll()), "both topics' records, each once");
            assertTrue(job.getMetrics().numRestarts() >= 1, "restarted to read the new topic from its start");
        }
    }

    /** A reader with the job-wide split ids at its start, so that it looks for new partitions. */
    record Context(int getIndexOfSubtask, int getParallelism, String getOperatorUid, String getJobName,
                   Set<String> splitIds) implements io.onceflow.api.source.SourceReaderContext {
        Context(Set<String> splitIds) {
            this(0, 1, "kafka", "looks", splitIds);
        }

        @Override
        public Optional<Set<String>> getSplitIdsAtStart() {
            return Optional.of(splitIds);
        }
    }

    /**
     * Deleted and created again while the job runs: the reader's next look for partitions compares the ids and stops
     * the job, saying which of the new topic's records it may have read as the old topic's: those from where it was
     * as its last look that found the old topic began, no earlier ones.
     */
    @Test
    void aTopicCreatedAgainWhileTheJobRunsIsNoticedAtTheNextLook() throws Exception {
        String topic = topic(1);
        write(topic, "old", 0, 30, 1);
        KafkaSource<String> source = source(topic).setPartitionDiscoveryInterval(Duration.ofMillis(100)).build();
        List<KafkaPartitionSplit> splits = source.createInitialSplits();
        KafkaSourceReader<String> reader = (KafkaSourceReader<String>) source.createReader(
                new Context(Set.of(splits.get(0).splitId())));
        try {
            reader.addSplits(splits);
            reader.start();
            List<String> read = new ArrayList<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            readUntil(reader, read, 30, deadline);
            assertEquals(records("old", 0, 30), read);
            long looks = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1500); // the first look comes after 1 s
            while (System.nanoTime() < looks) {
                reader.pollNext(read::add);
            }
            write(topic, "old", 30, 40, 1); // read, then found by the looks that follow as the old topic's
            looks = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(500);
            while (System.nanoTime() < looks) {
                reader.pollNext(read::add);
            }
            assertEquals(records("old", 0, 40), read);

            recreate(topic, 1);
            write(topic, "new", 0, 100, 1);
            NonRecoverableException e = null;
            while (e == null) {
                assertTrue(System.nanoTime() < deadline, "no look noticed the new topic");
                try {
                    reader.pollNext(read::add);
                } catch (NonRecoverableException noticed) {
                    e = noticed;
                }
            }
            List<String> ofTheNewTopic = read.subList(40, read.size());
            assertEquals(records("new", 40, 40 + ofTheNewTopic.size()), ofTheNewTopic,
                    "read on at the old offsets until the look came back");
            assertTrue(e.getMessage().contains("was deleted and created again")
                    && e.getMessage().contains("noticed it while running")
                    && e.getMessage().contains("from offset 40 of " + topic + "-0")
                    && e.getMessage().contains(" to " + (40 + ofTheNewTopic.size()) + " may have been read"),
                    e.getMessage());
        } finally {
            reader.close();
        }
    }

    /**
     * A checkpoint asks, beside its asynchronous part, whether the topics read are still the ones the positions are
     * offsets of: the reader's snapshot is confirmed while the old topic stands, and once the consumer has read on in
     * the new topic at the old offsets, the next checkpoint's confirmation fails (so that the task declines it), and
     * so does the reader's next poll. A reader that runs no look at all.
     */
    @Test
    void aCheckpointAfterRecordsOfATopicCreatedAgainIsNotConfirmed() throws Exception {
        String topic = topic(1);
        write(topic, "old", 0, 30, 1);
        KafkaSource<String> source = source(topic).build();
        KafkaSourceReader<String> reader = (KafkaSourceReader<String>) source.createReader(
                new KafkaSourceTest.ReaderContext(0, 1, "kafka", "confirm"));
        try {
            reader.addSplits(source.createInitialSplits());
            reader.start();
            reader.snapshotState(1);
            assertNull(reader.confirmSnapshot(1), "nothing read yet: nothing to ask");
            List<String> read = new ArrayList<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            readUntil(reader, read, 30, deadline);
            reader.snapshotState(2);
            CompletableFuture<Void> second = reader.confirmSnapshot(2);
            assertNotNull(second, "records read: the topic is asked for");
            second.get(30, TimeUnit.SECONDS); // the old topic stands: confirmed
            reader.snapshotState(3);
            assertSame(second, reader.confirmSnapshot(3), "nothing read since checkpoint 2: its answer stands");

            write(topic, "old", 30, 35, 1);
            readUntil(reader, read, 35, deadline);
            Uuid old;
            try (Admin admin = kafka.createAdmin()) {
                old = idOf(admin, topic);
                admin.deleteTopics(List.of(topic)).all().get(30, TimeUnit.SECONDS);
                await(() -> !exists(admin, topic), "the broker no longer knows the topic");
            }
            reader.snapshotState(4);
            reader.confirmSnapshot(4).get(30, TimeUnit.SECONDS); // deleted, not created again: all read was the old

            createAgain(topic, 1, old);
            write(topic, "new", 0, 100, 1);
            readUntil(reader, read, 45, deadline); // the consumer reads on at offset 35 of the new topic
            assertEquals(records("new", 35, 45), read.subList(35, 45));
            reader.snapshotState(5);
            ExecutionException failed = assertThrows(ExecutionException.class,
                    () -> reader.confirmSnapshot(5).get(30, TimeUnit.SECONDS));
            NonRecoverableException e = assertInstanceOf(NonRecoverableException.class, failed.getCause());
            assertTrue(e.getMessage().contains("was deleted and created again")
                    && e.getMessage().contains("as checkpoint 5 asked whether its topics were the ones it read")
                    && e.getMessage().contains("from offset 30 of " + topic + "-0")
                    && e.getMessage().contains(" to " + read.size() + " may have been read"), e.getMessage());
            assertSame(e, assertThrows(NonRecoverableException.class, () -> reader.pollNext(read::add)),
                    "the reader fails too");
            reader.snapshotState(6);
            assertTrue(reader.confirmSnapshot(6).isCompletedExceptionally(), "and no later checkpoint is confirmed");
        } finally {
            reader.close();
        }
    }

    /**
     * What a broker whose metadata lags behind a topic's deletion and creation answers (one slow to catch up, or cut
     * off from the controller until its session times out): the old topic's id.
     */
    private static java.util.function.UnaryOperator<java.util.Map<String, Uuid>> lagging(String topic, Uuid old) {
        return ids -> {
            java.util.Map<String, Uuid> stale = new java.util.HashMap<>(ids);
            stale.put(topic, old);
            return stale;
        };
    }

    /**
     * A consumer's own metadata gives the ids it fetches by, which a reader compares as it does the brokers': with
     * either of kafka-clients' consumers ({@code group.protocol} classic, and consumer, which has another delegate).
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"classic", "consumer"})
    void theIdsAConsumerFetchesByAreTheTopicsIds(String protocol) throws Exception {
        String topic = topic(1);
        write(topic, "old", 0, 5, 1);
        Uuid id = idOf(topic);
        Properties p = kafka.clientProperties();
        p.put(org.apache.kafka.clients.consumer.ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG,
                org.apache.kafka.common.serialization.ByteArrayDeserializer.class.getName());
        p.put(org.apache.kafka.clients.consumer.ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG,
                org.apache.kafka.common.serialization.ByteArrayDeserializer.class.getName());
        p.put(org.apache.kafka.clients.consumer.ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
        try (var consumer = new org.apache.kafka.clients.consumer.KafkaConsumer<byte[], byte[]>(p)) {
            assertEquals(java.util.Map.of(), FetchedTopicIds.of(consumer), "nothing asked yet");
            consumer.assign(List.of(new org.apache.kafka.common.TopicPartition(topic, 0)));
            consumer.seekToBeginning(consumer.assignment());
            int polled = 0;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (polled < 5) {
                assertTrue(System.nanoTime() < deadline, "polled " + polled + " of 5");
                polled += consumer.poll(Duration.ofMillis(100)).count();
            }
            assertEquals(id, FetchedTopicIds.of(consumer).get(topic));
        }
        assertEquals(java.util.Map.of(), FetchedTopicIds.of(null), "no consumer yet");
    }

    /**
     * The broker asked lags behind: it still gives the old topic's id after the topic was deleted and created again,
     * while the consumer, its metadata current, reads on in the new topic at the old offsets. The checkpoint after
     * those records is declined all the same: the reader compares the ids its consumer fetches by too.
     */
    @Test
    void aCheckpointAfterRecordsOfATopicCreatedAgainIsNotConfirmedWhenTheBrokerAskedLagsBehind() throws Exception {
        String topic = topic(1);
        write(topic, "old", 0, 30, 1);
        Uuid old = idOf(topic);
        KafkaSource<String> source = source(topic).build();
        KafkaSourceReader<String> reader = (KafkaSourceReader<String>) source.createReader(
                new KafkaSourceTest.ReaderContext(0, 1, "kafka", "lagging"));
        reader.brokerAnswers = lagging(topic, old);
        try {
            reader.addSplits(source.createInitialSplits());
            reader.start();
            List<String> read = new ArrayList<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            readUntil(reader, read, 30, deadline);
            reader.snapshotState(1);
            reader.confirmSnapshot(1).get(30, TimeUnit.SECONDS); // the old topic stands: confirmed

            recreate(topic, 1);
            write(topic, "new", 0, 100, 1);
            readUntil(reader, read, 40, deadline); // the consumer reads on at offset 30 of the new topic
            assertEquals(records("new", 30, 40), read.subList(30, 40));
            reader.snapshotState(2);
            ExecutionException failed = assertThrows(ExecutionException.class,
                    () -> reader.confirmSnapshot(2).get(30, TimeUnit.SECONDS));
            NonRecoverableException e = assertInstanceOf(NonRecoverableException.class, failed.getCause());
            assertTrue(e.getMessage().contains("was deleted and created again")
                    && e.getMessage().contains(", not " + old + " as when this job read it")
                    && e.getMessage().contains("as checkpoint 2 asked whether its topics were the ones it read")
                    && e.getMessage().contains("from offset 30 of " + topic + "-0"), e.getMessage());
        } finally {
            reader.close();
        }
    }

    /**
     * A restart whose broker asked lags behind: the topic was deleted and created again while the job was down and
     * the new topic's offset 50 is in range, but the broker still gives the old topic's id. The reader stops before
     * its first record, as it does when the broker is current: its consumer fetches by the new topic's id.
     */
    @Test
    void aRestartReadsNothingOfATopicCreatedAgainWhenTheBrokerAskedLagsBehind() throws Exception {
        String topic = topic(1);
        write(topic, "old", 0, 50, 1);
        Uuid old = idOf(topic);
        recreate(topic, 1);
        write(topic, "new", 0, 150, 1);
        KafkaSource<String> source = source(topic).build();
        KafkaSourceReader<String> reader = (KafkaSourceReader<String>) source.createReader(new Restored(7));
        reader.brokerAnswers = lagging(topic, old);
        try {
            reader.addSplits(List.of(new KafkaPartitionSplit(topic, 0, 50, KafkaPartitionSplit.NO_STOPPING_OFFSET,
                    old)));
            reader.start();
            List<String> read = new ArrayList<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            NonRecoverableException e = null;
            while (e == null) {
                assertTrue(System.nanoTime() < deadline, "the reader did not stop; read " + read);
                try {
                    reader.pollNext(read::add);
                } catch (NonRecoverableException stopped) {
                    e = stopped;
                }
            }
            assertEquals(List.of(), read, "nothing of the new topic read at the old topic's offsets");
            assertTrue(e.getMessage().contains("was deleted and created again")
                    && e.getMessage().contains(", not " + old + " as when this job read it")
                    && e.getMessage().contains("offsets restored from checkpoint 7"), e.getMessage());
        } finally {
            reader.close();
        }
    }

    /** A reader's context as a restart from checkpoint {@code id} gives it. */
    record Restored(int getIndexOfSubtask, int getParallelism, String getOperatorUid, String getJobName, long id)
            implements io.onceflow.api.source.SourceReaderContext {
        Restored(long id) {
            this(0, 1, "kafka", "restored", id);
        }

        @Override
        public java.util.OptionalLong getRestoredCheckpointId() {
            return java.util.OptionalLong.of(id);
        }
    }

    /** A reader restored from splits without topic ids (a checkpoint of before them) takes the topic's id. */
    @Test
    void splitsOfACheckpointWithoutTopicIdsAreReadAndTakeTheTopicsId() throws Exception {
        String topic = topic(1);
        write(topic, "old", 0, 20, 1);
        KafkaSource<String> source = source(topic).build();
        Uuid id = idOf(topic);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeUTF(topic); // version 1: topic, partition, next offset, stopping offset
        out.writeInt(0);
        out.writeLong(5);
        out.writeLong(KafkaPartitionSplit.NO_STOPPING_OFFSET);
        KafkaPartitionSplit old = source.getSplitSerializer().deserialize(1, bytes.toByteArray());
        assertNull(old.topicId());
        assertEquals(new KafkaPartitionSplit(topic, 0, 5, KafkaPartitionSplit.NO_STOPPING_OFFSET, null), old);

        KafkaSourceReader<String> reader = (KafkaSourceReader<String>) source.createReader(
                new KafkaSourceTest.ReaderContext(0, 1, "kafka", "before-ids"));
        try {
            reader.addSplits(List.of(old));
            reader.start();
            List<String> read = new ArrayList<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            readUntil(reader, read, 15, deadline);
            assertEquals(records("old", 5, 20), read);
            KafkaPartitionSplit now = reader.snapshotState(1).get(0);
            assertEquals(new KafkaPartitionSplit(topic, 0, 20, KafkaPartitionSplit.NO_STOPPING_OFFSET, id), now);
            assertEquals(2, source.getSplitSerializer().getVersion());
            KafkaPartitionSplit again = source.getSplitSerializer().deserialize(2,
                    source.getSplitSerializer().serialize(now));
            assertNotNull(again.topicId());
            assertEquals(now, again);
        } finally {
            reader.close();
        }
    }
}
