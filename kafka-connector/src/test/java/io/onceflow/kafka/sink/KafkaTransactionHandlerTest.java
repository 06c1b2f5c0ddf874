package io.onceflow.kafka.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.CheckpointConfig;
import io.onceflow.kafka.broker.Topics;
import io.onceflow.kafka.internal.SharedAdmin;
import io.onceflow.kafka.source.KafkaPartitionSplit;
import io.onceflow.kafka.source.KafkaRecordDeserializer;
import io.onceflow.kafka.source.KafkaSource;
import io.onceflow.kafka.source.SourceAdmin;
import io.onceflow.kafka.testing.KafkaTestCluster;
import io.onceflow.testing.ValidationContext;
import io.onceflow.twophase.TransactionContext;
import io.onceflow.twophase.TransactionLostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What a sink subtask's producers cost at a start and at a barrier, on a real broker: a producer that aborts a
 * restored open or a lingering transaction goes on to write the new writer's transactions (one {@code initTransactions()}
 * round trip, not two), and the producer the next barrier needs is initialised in the background, not in the
 * barrier's synchronous part. Each case checks the outcome with a read_committed consumer.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class KafkaTransactionHandlerTest {

    @RegisterExtension
    static final KafkaTestCluster kafka = new KafkaTestCluster();

    private static KafkaTransactionHandler<String> handler(String prefix, String topic) {
        return Pipelines.stringHandler(kafka, prefix, topic);
    }

    private static TransactionContext context(int subtask, long restoredCheckpoint, long sequence) {
        return new TransactionContext("handler-test", "output", subtask, 1, restoredCheckpoint, sequence);
    }

    /** One record in the transaction, then pre-commit at the checkpoint and commit. */
    private static void writeAndCommit(KafkaTransactionHandler<String> handler, KafkaTransaction transaction,
                                       String value, long checkpointId) throws Exception {
        handler.write(transaction, value);
        handler.preCommit(transaction, checkpointId);
        handler.commit(transaction);
    }

    private static void awaitCount(IntSupplier count, int expected) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (count.getAsInt() < expected && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(expected, count.getAsInt());
    }

    /** A handler that crashed with a transaction open, and the handler of the process that restored it. */
    private record Restart(KafkaTransactionHandler<String> crashed, KafkaTransaction open,
                           KafkaTransactionHandler<String> restored) {
    }

    /**
     * Subtask 0 writes a record in a transaction and crashes with it open; a new process restores a checkpoint that
     * holds the open transaction and aborts it ({@code recoverAndAbort}); the crashed handler is left a zombie.
     */
    private static Restart crashWithAnOpenTransactionAndRestore(String prefix, String topic) throws Exception {
        KafkaTransactionHandler<String> crashed = handler(prefix, topic);
        KafkaTransaction open = crashed.beginTransaction(context(0, 0, 0));
        crashed.write(open, "in-the-open-transaction");
        open.producer.flush();
        KafkaTransactionHandler<String> restored = handler(prefix, topic);
        restored.recoverAndAbort(new KafkaTransaction(open.transactionalId, null, null));
        return new Restart(crashed, open, restored);
    }

    @Test
    void theProducerThatAbortsARestoredOpenTransactionWritesTheNextOne() throws Exception {
        String topic = Pipelines.createTopic(kafka, "handler-restore", 1);
        Restart restart = crashWithAnOpenTransactionAndRestore("handler-restore", topic);
        KafkaTransactionHandler<String> crashed = restart.crashed();
        KafkaTransaction open = restart.open();
        KafkaTransactionHandler<String> restored = restart.restored();
        assertEquals(1, restored.producersInitialised());
        KafkaTransaction next = restored.beginTransaction(context(0, 1, 0));
        assertEquals(open.transactionalId, next.transactionalId, "the lowest free id of the pool");
        assertEquals(0, restored.producersInitialisedInBegin(), "the aborting producer was reused");
        writeAndCommit(restored, next, "after-the-restore", 2);

        assertEquals(List.of("after-the-restore,after-the-restore"), Pipelines.readCommitted(kafka, topic));
        // the zombie of the crashed process was fenced by the abort
        assertThrows(TransactionLostException.class, () -> {
            crashed.preCommit(open, 1);
            crashed.commit(open);
        });
        crashed.close(0);
        restored.close(0);
    }

    @Test
    void theProducerThatAbortsARestoredOpenTransactionHasTheOutputTopicsMetadataBeforeItsFirstSend() throws Exception {
        String topic = Pipelines.createTopic(kafka, "handler-metadata", 2);
        // the serializer names the topic: the aborting producer fetches its metadata in the background
        Restart restart = crashWithAnOpenTransactionAndRestore("handler-metadata", topic);
        KafkaTransactionHandler<String> restored = restart.restored();
        KafkaTransaction next = restored.beginTransaction(context(0, 1, 0));
        awaitPositive(next.producer::metadataWaitNanos, "the background fetch waited for the topic's metadata");
        double waited = next.producer.metadataWaitNanos();
        restored.write(next, "first-after-the-restore");
        assertEquals(waited, next.producer.metadataWaitNanos(), "the first send found the metadata there");
        restored.preCommit(next, 2);
        restored.commit(next);

        // a serializer that does not name its topic: nothing to fetch ahead, the first send waits
        KafkaTransactionHandler<String> unnamed = Pipelines.stringHandler(kafka, "handler-metadata-unnamed",
                value -> new org.apache.kafka.clients.producer.ProducerRecord<>(topic,
                        value.getBytes(java.nio.charset.StandardCharsets.UTF_8),
                        value.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        KafkaTransaction other = unnamed.beginTransaction(context(0, 0, 0));
        assertEquals(0.0, other.producer.metadataWaitNanos());
        unnamed.write(other, "unnamed");
        assertTrue(other.producer.metadataWaitNanos() > 0, "its first send waited for the metadata");
        unnamed.preCommit(other, 1);
        unnamed.commit(other);

        List<String> committed = Pipelines.readCommitted(kafka, topic);
        assertEquals(List.of("first-after-the-restore,first-after-the-restore", "unnamed,unnamed"),
                committed.stream().sorted().toList());
        restart.crashed().close(0);
        restored.close(0);
        unnamed.close(0);
    }

    private static void awaitPositive(java.util.function.DoubleSupplier value, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (value.getAsDouble() <= 0 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertTrue(value.getAsDouble() > 0, what);
    }

    @Test
    void theProducersThatAbortLingeringTransactionsAtAStartWriteTheFirstOnes() throws Exception {
        String topic = Pipelines.createTopic(kafka, "handler-sweep", 1);
        KafkaTransactionHandler<String> crashed = handler("handler-sweep", topic);
        KafkaTransaction first = crashed.beginTransaction(context(0, 0, 0));
        crashed.write(first, "lost-1");
        crashed.preCommit(first, 1);
        KafkaTransaction second = crashed.beginTransaction(context(0, 0, 1));
        crashed.write(second, "lost-2");
        second.producer.flush();

        // a fresh start: no checkpoint refers to either, so both are lingering
        KafkaTransactionHandler<String> started = handler("handler-sweep", topic);
        started.abortLingeringTransactions(sinkContext(0, 1));
        KafkaTransaction a = started.beginTransaction(context(0, 0, 0));
        started.write(a, "a");
        started.preCommit(a, 1);
        KafkaTransaction b = started.beginTransaction(context(0, 0, 1));
        started.write(b, "b");
        assertEquals(0, started.producersInitialisedInBegin(), "both begins took a producer that aborted one");
        started.commit(a);
        started.preCommit(b, 2);
        started.commit(b);

        assertEquals(List.of("a,a", "b,b"), Pipelines.readCommitted(kafka, topic));
        crashed.close(0);
        started.close(0);
    }

    static io.onceflow.api.sink.SinkInitContext sinkContext(int subtask, int parallelism) {
        return new io.onceflow.api.sink.SinkInitContext() {
            @Override
            public int getIndexOfSubtask() {
                return subtask;
            }

            @Override
            public int getParallelism() {
                return parallelism;
            }

            @Override
            public String getOperatorUid() {
                return "output";
            }

            @Override
            public String getJobName() {
                return "handler-test";
            }

            @Override
            public int getAttemptNumber() {
                return 0;
            }

            @Override
            public java.util.OptionalLong getRestoredCheckpointId() {
                return java.util.OptionalLong.empty();
            }
        };
    }

    @Test
    void aRestoredOpenTransactionOfAnotherParallelismIsAbortedAndItsProducerClosed() throws Exception {
        String topic = Pipelines.createTopic(kafka, "handler-rescale", 1);
        KafkaTransactionHandler<String> crashed = handler("handler-rescale", topic);
        KafkaTransaction open = crashed.beginTransaction(new TransactionContext("handler-test", "output", 1, 2, 0, 0));
        crashed.write(open, "in-the-open-transaction");
        open.producer.flush();

        KafkaTransactionHandler<String> rescaled = handler("handler-rescale", topic);
        rescaled.recoverAndAbort(new KafkaTransaction(open.transactionalId, null, null));
        KafkaTransaction next = rescaled.beginTransaction(context(0, 1, 0));
        assertTrue(next.transactionalId.startsWith("handler-rescale-p1-0-"), next.transactionalId);
        assertEquals(1, rescaled.producersInitialisedInBegin(), "a producer of the old parallelism's id cannot be reused");
        writeAndCommit(rescaled, next, "after-the-rescale", 2);

        assertEquals(List.of("after-the-rescale,after-the-rescale"), Pipelines.readCommitted(kafka, topic));
        crashed.close(1);
        rescaled.close(0);
    }

    @Test
    void theProducerForTheNextBarrierIsInitialisedInTheBackground() throws Exception {
        String topic = Pipelines.createTopic(kafka, "handler-spare", 1);
        KafkaTransactionHandler<String> handler = handler("handler-spare", topic);
        KafkaTransaction first = handler.beginTransaction(context(0, 0, 0));
        assertEquals(1, handler.producersInitialisedInBegin(), "the first begin has nothing to take");
        // a spare follows without any further call
        awaitCount(handler::producersInitialised, 2);
        handler.write(first, "one");
        handler.preCommit(first, 1);

        KafkaTransaction second = handler.beginTransaction(context(0, 0, 1));
        assertTrue(!second.transactionalId.equals(first.transactionalId), "the pre-committed id is still in use");
        handler.write(second, "two");
        assertEquals(1, handler.producersInitialisedInBegin(), "the barrier's begin took the spare");
        // and a new spare is on its way for the next barrier
        awaitCount(handler::producersInitialised, 3);

        handler.commit(first);
        handler.preCommit(second, 2);
        handler.commit(second);
        assertEquals(List.of("one,one", "two,two"), Pipelines.readCommitted(kafka, topic));
        handler.close(0);
    }

    @Test
    void aWriterClosedWhileItsSpareInitialisesLeavesNothingThatFencesTheNextOne() throws Exception {
        String topic = Pipelines.createTopic(kafka, "handler-close", 1);
        KafkaTransactionHandler<String> first = handler("handler-close", topic);
        KafkaTransaction aborted = first.beginTransaction(context(0, 0, 0));
        first.abort(aborted);
        first.close(0); // the spare (the pool's next id) may still be initialising: close waits for it

        KafkaTransactionHandler<String> second = handler("handler-close", topic);
        KafkaTransaction a = second.beginTransaction(context(0, 0, 0));
        awaitCount(second::producersInitialised, 2);
        second.write(a, "a");
        second.preCommit(a, 1);
        KafkaTransaction b = second.beginTransaction(context(0, 0, 1)); // the spare, on the id the first one's spare had
        second.write(b, "b");
        second.commit(a);
        second.preCommit(b, 2);
        second.commit(b);
        assertEquals(List.of("a,a", "b,b"), Pipelines.readCommitted(kafka, topic));
        second.close(0);
    }

    /**
     * The sink's start check asks the broker for its transaction limit with the Admin client that the writers and a
     * restart's calls use next: one client, still open when they start, not one for the check and another after it.
     */
    @Test
    void theStartCheckAsksWithTheAdminClientTheWritersUseNext() throws Exception {
        ExactlyOnceKafkaSink<String> sink = exactlyOnceSink("start-check", "30001");
        validate(sink, "start-check");
        SharedAdmin admin = sink.handler().sharedAdmin();
        assertEquals(1, admin.created(), "the check did not ask with the sink's Admin client");
        assertTrue(admin.isOpen(), "the check's Admin client was closed before the writers could use it");
        askForTheBrokers(admin);
        assertEquals(1, admin.created(), "the writers created another Admin client after the check's");
    }

    /**
     * A job's Kafka sources share one Admin client in the process, and its sinks another, even on one cluster with the
     * same client settings: an Admin client sends a broker one request at a time, and a sink's barrier checks would
     * queue behind the sources' questions at the same barrier. An Admin setting that differs (here the request timeout)
     * gives a source a client of its own.
     */
    @Test
    void aJobsSourcesAndSinksOnOneClusterAskWithAClientEach() throws Exception {
        ExactlyOnceKafkaSink<String> sink = exactlyOnceSink("shared-admin", "30002");
        KafkaSource<String> source = source("30002");
        KafkaSource<String> same = source("30002");
        KafkaSource<String> other = source("30003");
        SharedAdmin admin = sink.handler().sharedAdmin();
        assertNotSame(admin, SourceAdmin.of(source), "the source's readers would queue behind the sink's checks");
        assertSame(SourceAdmin.of(source), SourceAdmin.of(same), "two sources with the same settings, two clients");
        assertNotSame(SourceAdmin.of(source), SourceAdmin.of(other), "another request timeout, the same client");

        validate(sink, "shared-admin");
        assertEquals(1, admin.created());
        assertFalse(SourceAdmin.of(source).isOpen(), "the sink's start check opened the source's client");
        askForTheBrokers(SourceAdmin.of(source));
        assertEquals(1, SourceAdmin.of(source).created());
        assertEquals(1, admin.created(), "the source's readers asked with the sink's client");
    }

    @Test
    void aSourceListsItsPartitionsWithTheClientItsReadersUse() throws Exception {
        try (Admin admin = kafka.createAdmin()) {
            Topics.create(admin, 3, "shared-admin-splits");
        }
        KafkaSource<String> source = source("shared-admin-splits", "30004");
        SharedAdmin admin = SourceAdmin.of(source);
        assertFalse(admin.isOpen());

        List<KafkaPartitionSplit> splits = source.createInitialSplits();
        assertEquals(List.of(0, 1, 2), splits.stream().map(KafkaPartitionSplit::partition).toList());
        assertTrue(admin.isOpen(), "the source listed its partitions with an Admin client of its own");
        askForTheBrokers(admin);
        assertEquals(1, admin.created(), "the source's readers created another Admin client after the listing");
    }

    /**
     * An exactly-once sink writing to {@code name}; {@code requestTimeoutMs}, a setting its Admin client takes, one
     * that no other case uses, so that the client it shares in this process is this case's alone.
     */
    private static ExactlyOnceKafkaSink<String> exactlyOnceSink(String name, String requestTimeoutMs) {
        return (ExactlyOnceKafkaSink<String>) KafkaSink.<String>builder()
                .setBootstrapServers(kafka.bootstrapServers())
                .setDeliveryGuarantee(DeliveryGuarantee.EXACTLY_ONCE)
                .setTransactionalIdPrefix(name)
                .setProperty(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, requestTimeoutMs)
                .setRecordSerializer(KafkaRecordSerializer.forTopic(name,
                        v -> v.getBytes(StandardCharsets.UTF_8), v -> v.getBytes(StandardCharsets.UTF_8)))
                .build();
    }

    private static KafkaSource<String> source(String requestTimeoutMs) {
        return source("shared-admin-input", requestTimeoutMs);
    }

    private static KafkaSource<String> source(String topic, String requestTimeoutMs) {
        return KafkaSource.<String>builder()
                .setBootstrapServers(kafka.bootstrapServers())
                .setTopics(topic)
                .setDeserializer(KafkaRecordDeserializer.utf8Values())
                .setProperty(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, requestTimeoutMs)
                .build();
    }

    /** Asks the cluster for its brokers with the shared client, as a writer or a source's reader would ask. */
    private static void askForTheBrokers(SharedAdmin admin) throws Exception {
        admin.acquire();
        try {
            assertEquals(1, admin.get().describeCluster().nodes().get(30, TimeUnit.SECONDS).size());
        } finally {
            admin.release();
        }
    }

    /** The sink's start check, which asks the broker for its transaction limit. */
    private static void validate(ExactlyOnceKafkaSink<String> sink, String jobName) throws Exception {
        CheckpointConfig checkpoints = new CheckpointConfig();
        checkpoints.setCheckpointInterval(Duration.ofSeconds(1));
        sink.validate(ValidationContext.of(jobName, "output", checkpoints));
    }
}
