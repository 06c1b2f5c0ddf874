package io.onceflow.kafka.sink.internal;

import io.onceflow.kafka.broker.Topics;
import static io.onceflow.kafka.sink.internal.TestClients.describe;
import static io.onceflow.kafka.sink.internal.TestClients.millisUntilVisible;
import static io.onceflow.kafka.sink.internal.TestClients.readAllCommitted;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import io.onceflow.kafka.testing.KafkaTestCluster;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The transactional producer adapter against a real Kafka 4.3 broker (transactions v2, its default): resuming
 * and committing a transaction of a producer that crashed after pre-commit, idempotent re-commit, transactions
 * the broker aborted as timed out, epoch bumps on one transactional id, and aborting lingering transactions.
 * Every outcome is checked by an independent read_committed consumer. One broker for the class.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TransactionalProducerTest {
    @RegisterExtension
    static final KafkaTestCluster kafka = new KafkaTestCluster()
            // the coordinator looks for timed-out transactions every 10 s by default
            .withBrokerProperty("transaction.abort.timed.out.transaction.cleanup.interval.ms", "500")
            // one __transaction_state partition instead of 50: created faster on this single node
            .withBrokerProperty("transaction.state.log.num.partitions", "1");

    private static final AtomicInteger TOPICS = new AtomicInteger();
    private static Admin admin;
    private final List<TransactionalProducer> abandoned = new ArrayList<>();

    @TempDir
    Path tmp;

    @BeforeAll
    static void createAdmin() {
        admin = kafka.createAdmin();
    }

    @AfterAll
    static void closeAdmin() {
        if (admin != null) {
            admin.close();
        }
    }

    /**
     * "Crashed" producers of this JVM are dropped during a test, never closed before the recovery is checked;
     * afterwards they are closed without waiting, which sends no EndTxn (see
     * {@link #closingAPreCommittedProducerLeavesItsTransactionToItsCommitter()}).
     */
    @AfterEach
    void closeAbandoned() {
        abandoned.forEach(p -> p.close(Duration.ZERO));
    }

    private static Properties props() {
        Properties p = kafka.clientProperties();
        p.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, "60000");
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
        return p;
    }

    private static String newTopic(int partitions) throws Exception {
        String topic = "txn-test-" + TOPICS.incrementAndGet();
        Topics.create(admin, partitions, topic);
        return topic;
    }

    private static ProducerRecord<byte[], byte[]> record(String topic, int partition, String value) {
        return new ProducerRecord<>(topic, partition, null, value.getBytes(StandardCharsets.UTF_8));
    }

    /** Begins a transaction and writes {@code n} records alternately to partitions 0 and 1. */
    private static List<String> writeTransaction(TransactionalProducer p, String topic, String tag, int n) {
        p.beginTransaction();
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            p.send(record(topic, i % 2, tag + "-" + i));
            expected.add(i % 2 + ":" + tag + "-" + i);
        }
        return expected;
    }

    private static void assertExactlyOnce(List<String> expected, List<String> read) {
        assertEquals(new HashSet<>(read).size(), read.size(), "duplicates in " + read);
        assertEquals(Set.copyOf(expected), Set.copyOf(read), "read_committed saw other records than expected");
    }

    // ------------------------------------------------------------------ hanging transactions

    /**
     * A partition that counts records of this producer id from before the transaction's own first record as
     * part of its open transaction (what a hanging transaction of an earlier epoch looks like there, its abort
     * marker never written) makes the pre-commit check fail, so they are aborted rather than committed with
     * it; a clean transaction passes. The records "from before" are written here through the producer
     * underneath, which the adapter does not track ({@link TransactionMarkersTest} makes the broker skip a marker).
     */
    @Test
    void aTransactionThatWouldCommitRecordsBeforeItsOwnIsRefused() throws Exception {
        String topic = newTopic(2);
        TransactionalProducer p = TransactionalProducer.create("hanging-0-0", props());
        List<String> expected = writeTransaction(p, topic, "clean", 4);
        ResumableTransaction clean = p.preCommit();
        BarrierChecks.run(admin, new java.util.ArrayList<>(), clean, props());
        p.commitTransaction();

        p.beginTransaction();
        var underneath = underneath(p);
        underneath.send(record(topic, 0, "left-open")).get(30, TimeUnit.SECONDS);
        p.send(record(topic, 0, "ours-0"));
        p.send(record(topic, 0, "ours-1"));
        ResumableTransaction t = p.preCommit();
        KafkaException refused = assertThrows(KafkaException.class,
                () -> BarrierChecks.run(admin, new java.util.ArrayList<>(), t, props()));
        assertTrue(refused.getMessage().contains("hanging transaction") && refused.getMessage().contains(topic + "-0 from offset 3"),
                refused.getMessage());
        p.abortTransaction();
        p.close(Duration.ofSeconds(5));
        assertExactlyOnce(expected, readAllCommitted(props(), admin, topic, 2, Duration.ofSeconds(15)));
    }

    /**
     * The barrier's request goes out before the pre-commit's flush ({@link BarrierChecks#ask}): a partition asked
     * before the transaction's own records reached it still shows what an earlier transaction of the producer id left
     * open there, and a partition the early request did not name is asked after the flush. The transaction is refused
     * either way; a clean one asked early, with one partition acknowledged and one written only after the request,
     * passes.
     */
    @Test
    void aHangingTransactionIsFoundWhetherItsPartitionIsAskedBeforeOrAfterTheFlush() throws Exception {
        String topic = newTopic(2);
        TopicPartition p0 = new TopicPartition(topic, 0);
        TopicPartition p1 = new TopicPartition(topic, 1);
        TransactionalProducer p = TransactionalProducer.create("hanging-early-0-0", props());
        var underneath = underneath(p);

        p.beginTransaction();
        p.send(record(topic, 0, "clean-0"));
        p.send(record(topic, 0, "clean-1"));
        p.flush();
        assertEquals(Set.of(p0), p.acknowledgedPartitions());
        BarrierChecks.Asked early = BarrierChecks.ask(admin, new ArrayList<>(), p.acknowledgedPartitions(), props());
        p.send(record(topic, 1, "clean-2"));
        p.send(record(topic, 1, "clean-3"));
        early.verify(p.preCommit());
        p.commitTransaction();
        List<String> expected = List.of("0:clean-0", "0:clean-1", "1:clean-2", "1:clean-3");

        // partition 0 asked before this transaction's first record there: offsets 0-1 clean, 2 its commit marker
        p.beginTransaction();
        underneath.send(record(topic, 0, "left-open")).get(30, TimeUnit.SECONDS);
        BarrierChecks.Asked beforeOurs = BarrierChecks.ask(admin, new ArrayList<>(), Set.of(p0), props());
        p.send(record(topic, 0, "ours-0"));
        ResumableTransaction t = p.preCommit();
        KafkaException refused = assertThrows(KafkaException.class, () -> beforeOurs.verify(t));
        assertTrue(refused.getMessage().contains("hanging transaction")
                && refused.getMessage().contains(topic + "-0 from offset 3"), refused.getMessage());
        p.abortTransaction();

        // partition 1 not named early: asked after the flush
        p.beginTransaction();
        BarrierChecks.Asked nothingEarly = BarrierChecks.ask(admin, new ArrayList<>(), Set.of(), props());
        underneath.send(record(topic, 1, "left-open")).get(30, TimeUnit.SECONDS);
        p.send(record(topic, 1, "ours-1"));
        ResumableTransaction u = p.preCommit();
        refused = assertThrows(KafkaException.class, () -> nothingEarly.verify(u));
        assertTrue(refused.getMessage().contains("hanging transaction")
                && refused.getMessage().contains(topic + "-1 from offset 3"), refused.getMessage());
        p.abortTransaction();
        p.close(Duration.ofSeconds(5));
        assertExactlyOnce(expected, readAllCommitted(props(), admin, topic, 2, Duration.ofSeconds(15)));
    }

    /** The Kafka producer under the adapter: what it sends, the adapter does not track. */
    @SuppressWarnings("unchecked")
    private static org.apache.kafka.clients.producer.KafkaProducer<byte[], byte[]> underneath(TransactionalProducer p)
            throws ReflectiveOperationException {
        java.lang.reflect.Field raw = TransactionalProducer.class.getDeclaredField("producer");
        raw.setAccessible(true);
        return (org.apache.kafka.clients.producer.KafkaProducer<byte[], byte[]>) raw.get(p);
    }

    // ------------------------------------------------------------------ resume and commit

    @Test
    void resumesAndCommitsTheTransactionOfAnAbandonedProducer() throws Exception {
        String topic = newTopic(2);
        TransactionalProducer a = TransactionalProducer.create("resume-0-0", props());
        List<String> expected = writeTransaction(a, topic, "a", 10);
        ResumableTransaction t = a.preCommit();
        abandoned.add(a); // "crashed": never committed, never closed

        // flush at pre-commit put both partitions into the transaction at the coordinator
        TransactionDescription open = describe(admin, t.transactionalId());
        assertEquals(TransactionState.ONGOING, open.state());
        assertEquals(Set.of(new TopicPartition(topic, 0), new TopicPartition(topic, 1)), open.topicPartitions());
        assertEquals(t.producerId(), open.producerId());
        assertEquals(t.epoch(), open.producerEpoch());
        assertTrue(t.transactionV2(), "the broker runs transactions v2 by default");

        CommitResult result = TransactionalProducer.resumeAndCommit(t, props());
        assertEquals(CommitResult.Outcome.COMMITTED, result.outcome(), result.message());
        assertExactlyOnce(expected, readAllCommitted(props(), admin, topic, 2, Duration.ofSeconds(15)));
    }

    @Test
    void committingTheSameTransactionAgainReportsAlreadyCommitted() throws Exception {
        String topic = newTopic(2);
        TransactionalProducer a = TransactionalProducer.create("twice-0-0", props());
        List<String> expected = writeTransaction(a, topic, "a", 6);
        ResumableTransaction t = a.preCommit();
        abandoned.add(a);

        assertEquals(CommitResult.Outcome.COMMITTED, TransactionalProducer.resumeAndCommit(t, props()).outcome());
        CommitResult again = TransactionalProducer.resumeAndCommit(t, props());
        assertEquals(CommitResult.Outcome.ALREADY_COMMITTED, again.outcome(), again.message());
        assertTrue(again.isCommitted() && !again.outcome().isDataPossiblyLost());
        // and once more through the live producer's committable of an in-process commit
        TransactionalProducer b = TransactionalProducer.create("twice-0-1", props());
        List<String> expectedB = writeTransaction(b, topic, "b", 4);
        ResumableTransaction tb = b.preCommit();
        b.commitTransaction();
        b.close();
        assertEquals(CommitResult.Outcome.ALREADY_COMMITTED, TransactionalProducer.resumeAndCommit(tb, props())
                .outcome());

        List<String> all = new ArrayList<>(expected);
        all.addAll(expectedB);
        assertExactlyOnce(all, readAllCommitted(props(), admin, topic, 2, Duration.ofSeconds(15)));
    }

    @Test
    void aTransactionAbortedByTheBrokersTimeoutIsReportedAsFencedOrExpired() throws Exception {
        String topic = newTopic(2);
        Properties shortTimeout = props();
        shortTimeout.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, "3000");
        TransactionalProducer a = TransactionalProducer.create("expired-0-0", shortTimeout);
        writeTransaction(a, topic, "lost", 4);
        ResumableTransaction t = a.preCommit();
        abandoned.add(a);

        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (describe(admin, t.transactionalId()).state() != TransactionState.COMPLETE_ABORT) {
            assertTrue(System.nanoTime() < deadline, "the broker did not abort the timed-out transaction");
            Thread.sleep(200);
        }
        CommitResult result = TransactionalProducer.resumeAndCommit(t, shortTimeout);
        assertEquals(CommitResult.Outcome.FENCED_OR_EXPIRED, result.outcome(), result.message());
        assertTrue(result.outcome().isDataPossiblyLost());
        assertTrue(result.message().contains("transaction.timeout.ms (3000 ms)"), result.message());
        assertTrue(result.message().contains("aborted"), result.message());

        TransactionalProducer marker = TransactionalProducer.create("expired-0-1", props());
        List<String> expected = writeTransaction(marker, topic, "marker", 2);
        marker.commitTransaction();
        marker.close();
        assertExactlyOnce(expected, readAllCommitted(props(), admin, topic, 2, Duration.ofSeconds(15)));
    }

    /**
     * Under transactions v2 every commit bumps the epoch; after epoch 32766 the coordinator moves the
     * transactional id to a new producer id at epoch 0. A transaction pre-committed at 32766 must still be
     * committed on resume, and a second resume must see that it was (the new producer id is ours).
     */
    @Test
    @org.junit.jupiter.api.Tag("slow") // 32,766 transactions: minutes; in the long form (README, "Slow tests")
    @org.junit.jupiter.api.Timeout(value = 15, unit = TimeUnit.MINUTES)
    void aTransactionPreCommittedAtTheLastEpochBeforeTheRolloverCommitsOnceOnResume() throws Exception {
        String topic = newTopic(2);
        TransactionalProducer a = TransactionalProducer.create("rollover-0-0", props());
        long start = System.nanoTime();
        int transactions = 0;
        while (a.producerState().epoch() < Short.MAX_VALUE - 1) {
            a.beginTransaction();
            a.send(record(topic, 0, "filler"));
            a.commitTransaction();
            transactions++;
        }
        System.out.printf("%d transactions to epoch %d in %d ms%n", transactions, a.producerState().epoch(),
                (System.nanoTime() - start) / 1_000_000);
        List<String> expected = writeTransaction(a, topic, "last", 3);
        ResumableTransaction last = a.preCommit();
        abandoned.add(a);
        assertEquals(Short.MAX_VALUE - 1, last.epoch());

        CommitResult result = TransactionalProducer.resumeAndCommit(last, props());
        assertEquals(CommitResult.Outcome.COMMITTED, result.outcome(), result.message());
        TransactionDescription after = describe(admin, last.transactionalId());
        assertTrue(after.producerId() != last.producerId() && after.producerEpoch() == 0,
                "the commit at epoch 32766 rolled over to a new producer id: " + after);
        CommitResult again = TransactionalProducer.resumeAndCommit(last, props());
        assertEquals(CommitResult.Outcome.ALREADY_COMMITTED, again.outcome(), again.message());
        List<String> read = new ArrayList<>(readAllCommitted(props(), admin, topic, 2, Duration.ofSeconds(60)));
        assertEquals(transactions, read.stream().filter("0:filler"::equals).count());
        read.removeIf("0:filler"::equals);
        assertExactlyOnce(expected, read);
    }

    @Test
    void resumesTheLastOfSeveralTransactionsAfterEpochBumps() throws Exception {
        // FLINK-40689: with transactions v2 every commit bumps the epoch, so the committable must carry the epoch
        // of the open transaction, not the one initTransactions() returned
        String topic = newTopic(2);
        TransactionalProducer a = TransactionalProducer.create("bumps-0-0", props());
        short initial = a.producerState().epoch();
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            expected.addAll(writeTransaction(a, topic, "c" + i, 3));
            ResumableTransaction t = a.preCommit();
            assertEquals(initial + i, t.epoch(), "one epoch bump per committed transaction");
            a.commitTransaction();
        }
        expected.addAll(writeTransaction(a, topic, "last", 3));
        ResumableTransaction last = a.preCommit();
        abandoned.add(a);
        assertEquals(initial + 4, last.epoch());

        CommitResult result = TransactionalProducer.resumeAndCommit(last, props());
        assertEquals(CommitResult.Outcome.COMMITTED, result.outcome(), result.message());
        TransactionDescription after = describe(admin, last.transactionalId());
        assertEquals(last.epoch() + 1, after.producerEpoch(), "the resumed commit bumped the epoch too");
        // committing an older committable of the same id is fenced, never a commit of something else
        CommitResult older = TransactionalProducer.resumeAndCommit(new ResumableTransaction(last.transactionalId(),
                last.producerId(), (short) (last.epoch() - 2), true), props());
        assertEquals(CommitResult.Outcome.FENCED_OR_EXPIRED, older.outcome(), older.message());
        assertExactlyOnce(expected, readAllCommitted(props(), admin, topic, 2, Duration.ofSeconds(15)));
    }

    @Test
    void resumesTheTransactionOfAChildJvmKilledAfterPreCommit() throws Exception {
        String topic = newTopic(2);
        Path stderr = tmp.resolve("child.err");
        long begin = System.nanoTime();
        // the child commits 3 transactions (epochs bumped 3 times), pre-commits a 4th, prints it, waits
        Process child = TestClients.startJava(PreCommitThenHangMain.class, stderr, kafka.bootstrapServers(), topic,
                "killed-0-0", "3", "8");
        ResumableTransaction t;
        try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(),
                StandardCharsets.UTF_8))) {
            String line;
            do {
                line = out.readLine();
            } while (line != null && !line.startsWith(PreCommitThenHangMain.LINE_PREFIX));
            if (line == null) {
                throw new AssertionError("the child exited without pre-committing: " + Files.readString(stderr));
            }
            t = PreCommitThenHangMain.parse(line);
        } finally {
            child.destroyForcibly(); // SIGKILL: no shutdown hook, no close, no abort
            assertTrue(child.waitFor(10, TimeUnit.SECONDS));
        }
        long childMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - begin);
        assertEquals(137, child.exitValue(), "killed by SIGKILL");
        assertTrue(t.transactionV2());
        assertEquals(TransactionState.ONGOING, describe(admin, t.transactionalId()).state());

        CommitResult result = TransactionalProducer.resumeAndCommit(t, props());
        assertEquals(CommitResult.Outcome.COMMITTED, result.outcome(), result.message());
        List<String> expected = new ArrayList<>();
        for (int tx = 0; tx <= 3; tx++) {
            for (int r = 0; r < 8; r++) {
                expected.add(r % 2 + ":t" + tx + "-r" + r);
            }
        }
        assertExactlyOnce(expected, readAllCommitted(props(), admin, topic, 2, Duration.ofSeconds(15)));
        System.out.println("child JVM ran and was killed in " + childMs + " ms");
    }

    @Test
    void closingAPreCommittedProducerLeavesItsTransactionToItsCommitter() throws Exception {
        String topic = newTopic(2);
        TransactionalProducer a = TransactionalProducer.create("closed-0-0", props());
        List<String> expected = writeTransaction(a, topic, "a", 4);
        ResumableTransaction t = a.preCommit();
        a.close(); // pre-committed: closed without waiting, which sends no EndTxn
        Thread.sleep(300);
        assertEquals(TransactionState.ONGOING, describe(admin, t.transactionalId()).state());
        assertEquals(CommitResult.Outcome.COMMITTED, TransactionalProducer.resumeAndCommit(t, props()).outcome());
        assertExactlyOnce(expected, readAllCommitted(props(), admin, topic, 2, Duration.ofSeconds(15)));
    }

    /**
     * Pins the coordinator behaviour (Kafka 4.3, transactions v2) the adapter relies on, at the level of raw
     * EndTxn requests: only the epoch of the open transaction commits it; after the commit, which bumps the
     * epoch, a retried EndTxn at the old epoch is accepted in protocol v5+ but fenced in v4 (FLINK-40689: the
     * committable must record the protocol version).
     */
    @Test
    void theCoordinatorAcceptsOnlyTheOpenTransactionsEpochAndRecognisesARetriedV2Commit() throws Exception {
        String topic = newTopic(2);
        TransactionalProducer a = TransactionalProducer.create("raw-0-0", props());
        writeTransaction(a, topic, "a", 2);
        ResumableTransaction t = a.preCommit();
        abandoned.add(a);
        assertThrows(org.apache.kafka.common.errors.ProducerFencedException.class,
                () -> rawEndTxnCommit(t.transactionalId(), t.producerId(), (short) (t.epoch() + 1), true));
        assertThrows(org.apache.kafka.common.errors.ProducerFencedException.class,
                () -> rawEndTxnCommit(t.transactionalId(), t.producerId(), (short) (t.epoch() - 1), true));
        assertEquals(TransactionState.ONGOING, describe(admin, t.transactionalId()).state());
        assertEquals(t.epoch() + 1, rawEndTxnCommit(t.transactionalId(), t.producerId(), t.epoch(), true).epoch(),
                "the EndTxn response carries the bumped epoch");
        assertEquals(t.epoch() + 1, describe(admin, t.transactionalId()).producerEpoch());
        rawEndTxnCommit(t.transactionalId(), t.producerId(), t.epoch(), true); // a retry: accepted
        assertThrows(org.apache.kafka.common.errors.ProducerFencedException.class,
                () -> rawEndTxnCommit(t.transactionalId(), t.producerId(), t.epoch(), false));
    }

    private static ProducerInternals.ProducerState rawEndTxnCommit(String transactionalId, long producerId,
            short epoch, boolean v2) {
        try (org.apache.kafka.clients.producer.KafkaProducer<byte[], byte[]> p =
                new org.apache.kafka.clients.producer.KafkaProducer<>(
                        TransactionalProducer.producerProperties(transactionalId, props()))) {
            ProducerInternals.resume(p, producerId, epoch, v2);
            p.beginTransaction();
            ProducerInternals.markTransactionStarted(p);
            p.commitTransaction();
            return ProducerInternals.state(p);
        }
    }

    /**
     * Runs the adapter in a child JVM on another kafka-clients jar, given with
     * {@code -Donceflow.kafka.compat.clientsJar=/path/kafka-clients-X.jar} (Maven passes the one it copied; the test
     * fails rather than skips without it): without
     * {@code -Donceflow.kafka.clients.allowUntestedVersion=true} it must refuse with a clear message; with it, the
     * whole resume / re-commit / lingering-abort cycle must work.
     */
    @Test
    void worksWithAnotherKafkaClientsVersion() throws Exception {
        // never skipped: the build copies the jar (maven-dependency-plugin, generate-test-resources) and passes its path
        String jar = System.getProperty("onceflow.kafka.compat.clientsJar", "");
        assertTrue(!jar.isBlank() && Files.isRegularFile(Path.of(jar)), "the kafka-clients jar to test against is missing ("
                + jar + "): run the tests through Maven (mvn -pl kafka-connector test), which copies it to target/compat, "
                + "or pass -Donceflow.kafka.compat.clientsJar=/path/kafka-clients-X.jar");
        String topic = newTopic(2);
        List<Path> cp = new ArrayList<>();
        for (Path p : TestClients.classpath()) {
            if (!p.getFileName().toString().startsWith("kafka-clients-")) {
                cp.add(p);
            }
        }
        cp.add(0, Path.of(jar));
        List<String> refused = TestClients.runJava(CompatibilityMain.class, cp, List.of(), tmp.resolve("c1.err"),
                kafka.bootstrapServers(), topic, "compat1");
        System.out.println("without the flag: " + refused);
        assertTrue(refused.stream().anyMatch(l -> l.startsWith("VERIFY failed") && l.contains("Supported")), refused.toString());
        List<String> out = TestClients.runJava(CompatibilityMain.class, cp,
                List.of("-D" + ProducerInternals.ALLOW_UNTESTED_PROPERTY + "=true"), tmp.resolve("c2.err"),
                kafka.bootstrapServers(), topic, "compat2");
        System.out.println("with the flag: " + out);
        assertTrue(out.contains("RESUME1 COMMITTED"), out + " " + Files.readString(tmp.resolve("c2.err")));
        assertTrue(out.contains("RESUME2 ALREADY_COMMITTED"), out.toString());
        assertTrue(out.contains("ABORTED [compat2-0-1]"), out.toString());
        List<String> expected = new ArrayList<>(List.of("0:before-0", "1:before-1", "0:before-2"));
        for (int i = 0; i < 4; i++) {
            expected.add(i % 2 + ":compat-" + i);
        }
        assertExactlyOnce(expected, readAllCommitted(props(), admin, topic, 2, Duration.ofSeconds(15)));
    }

    // ------------------------------------------------------------------ producer rules

    @Test
    void anEmptyTransactionCannotBePreCommittedButCommitsWithoutARequest() throws Exception {
        TransactionalProducer p = TransactionalProducer.create("empty-0-0", props());
        try {
            p.beginTransaction();
            short epoch = p.producerState().epoch();
            assertThrows(IllegalStateException.class, p::preCommit);
            p.commitTransaction();
            assertEquals(epoch, p.producerState().epoch(), "no EndTxn, so no epoch bump");
        } finally {
            p.close();
        }
    }

    @Test
    void aFailedRecordMakesPreCommitFail() throws Exception {
        String topic = newTopic(2);
        Properties small = props();
        small.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, "1024");
        TransactionalProducer p = TransactionalProducer.create("failed-0-0", small);
        try {
            p.beginTransaction();
            p.send(record(topic, 0, "fine"));
            p.send(record(topic, 1, "x".repeat(4096))); // too large: fails in its callback
            KafkaException e = assertThrows(KafkaException.class, p::preCommit);
            assertTrue(e.getMessage().contains("must be aborted"), e.getMessage());
            p.abortTransaction();
        } finally {
            p.close();
        }
        assertEquals(List.of(), readAllCommitted(props(), admin, topic, 2, Duration.ofSeconds(15)));
    }

    // ------------------------------------------------------------------ lingering transactions

    /** A producer of {@code transactionalId} that writes {@code n} records to {@code topic}, then "crashes". */
    private TransactionalProducer crashWithAnOpenTransaction(String transactionalId, String topic, String tag, int n) {
        TransactionalProducer p = TransactionalProducer.create(transactionalId, props());
        writeTransaction(p, topic, tag, n);
        p.flush();
        abandoned.add(p);
        return p;
    }

    @Test
    void abortsTheLingeringTransactionsOfASubtaskOnly() throws Exception {
        String topic = newTopic(2);
        String other = newTopic(1);
        String prefix = "linger";
        // subtask 0 left a transaction open on linger-0-1 (crashed), and one on linger-0-2 it pre-committed
        crashWithAnOpenTransaction(prefix + "-0-1", topic, "lingering", 3);
        TransactionalProducer preCommitted = TransactionalProducer.create(prefix + "-0-2", props());
        writeTransaction(preCommitted, other, "kept", 1);
        ResumableTransaction kept = preCommitted.preCommit();
        abandoned.add(preCommitted);
        // subtask 1's open transaction, and one of another prefix sharing the first characters
        crashWithAnOpenTransaction(prefix + "-1-0", other, "subtask1", 1);
        crashWithAnOpenTransaction(prefix + "x-0-0", other, "otherprefix", 1);

        // a marker written after the lingering transaction stays invisible while it is open
        TransactionalProducer markerProducer = TransactionalProducer.create("marker-0-0", props());
        markerProducer.beginTransaction();
        markerProducer.send(record(topic, 0, "marker"));
        markerProducer.commitTransaction();
        markerProducer.close();
        assertThrows(AssertionError.class, () -> millisUntilVisible(props(), new TopicPartition(topic, 0),
                "marker"::equals, Duration.ofMillis(700)));

        long begin = System.nanoTime();
        List<String> aborted = new LingeringTransactionAborter(props(), admin).abortLingering(prefix, 0,
                Set.of(kept.transactionalId()));
        long abortMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - begin);
        assertEquals(List.of(prefix + "-0-1"), aborted);

        long visibleMs = millisUntilVisible(props(), new TopicPartition(topic, 0), "marker"::equals,
                Duration.ofSeconds(5));
        assertEquals(List.of("0:marker"), readAllCommitted(props(), admin, topic, 2, Duration.ofSeconds(10)));
        System.out.println("aborted lingering transactions in " + abortMs + " ms; marker visible after "
                + visibleMs + " ms");

        // untouched: the other subtask's and the other prefix's transactions, and the pre-committed one
        assertEquals(TransactionState.ONGOING, describe(admin, prefix + "-1-0").state());
        assertEquals(TransactionState.ONGOING, describe(admin, prefix + "x-0-0").state());
        assertEquals(CommitResult.Outcome.COMMITTED, TransactionalProducer.resumeAndCommit(kept, props()).outcome());
        // and the whole prefix, every subtask
        assertEquals(List.of(prefix + "-1-0"),
                new LingeringTransactionAborter(props(), admin).abortLingering(prefix, s -> true, Set.of()));
        assertEquals(TransactionState.ONGOING, describe(admin, prefix + "x-0-0").state());
        new LingeringTransactionAborter(props(), admin).abortLingering(prefix + "x", 0, Set.of());
        assertEquals(List.of("0:kept-0"), readAllCommitted(props(), admin, other, 1, Duration.ofSeconds(10)));
    }

    @Test
    void theTopicsOfTheTransactionsAboutToBeAbortedAreHandedOverBeforeTheAbort() throws Exception {
        String first = newTopic(2);
        String second = newTopic(1);
        String untouched = newTopic(1);
        String prefix = "linger-topics";
        TransactionalProducer a = crashWithAnOpenTransaction(prefix + "-0-0", first, "a", 2);
        a.send(record(second, 0, "a-second"));
        a.flush();
        crashWithAnOpenTransaction(prefix + "-0-1", second, "b", 1);
        crashWithAnOpenTransaction(prefix + "-1-0", untouched, "c", 1);

        List<Set<String>> handed = new ArrayList<>();
        List<TransactionState> stateWhenHanded = new ArrayList<>();
        List<String> aborted = new LingeringTransactionAborter(props(), admin)
                .withTopicsOfAborted(topics -> {
                    handed.add(topics);
                    try {
                        stateWhenHanded.add(describe(admin, prefix + "-0-0").state());
                    } catch (Exception e) {
                        throw new AssertionError(e);
                    }
                })
                .abortLingering(prefix, 0, Set.of());
        assertEquals(List.of(prefix + "-0-0", prefix + "-0-1"), aborted);
        assertEquals(List.of(Set.of(first, second)), handed, "one question for both");
        assertEquals(List.of(TransactionState.ONGOING), stateWhenHanded, "handed over before the aborts");
        TransactionState after = describe(admin, prefix + "-0-0").state();
        assertTrue(after != TransactionState.ONGOING, "aborted, the id initialised again: " + after);
        // once aborted a transaction names no topics; an id the coordinator never saw names none either, quietly
        assertEquals(Set.of(), LingeringTransactionAborter.topicsOf(admin, List.of(prefix + "-0-0"), props()));
        assertEquals(Set.of(), LingeringTransactionAborter.topicsOf(admin, List.of(prefix + "-never-used"), props()));
        assertEquals(Set.of(untouched), LingeringTransactionAborter.topicsOf(admin, List.of(prefix + "-1-0"), props()));
    }
}
