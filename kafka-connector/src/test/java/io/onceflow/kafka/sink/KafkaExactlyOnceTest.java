package io.onceflow.kafka.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.JobMetrics;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.kafka.testing.KafkaTestCluster;
import io.onceflow.runtime.fault.FaultInjector;
import io.onceflow.runtime.fault.FaultPoint;
import io.onceflow.testing.InjectedFailure;
import io.onceflow.testing.SequenceChecker;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Kafka → split → keyed running count → Kafka on a real broker, with failures injected at the dangerous
 * moments. The output is read by an independent read_committed consumer and checked per key.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class KafkaExactlyOnceTest {

    @RegisterExtension
    static final KafkaTestCluster kafka = new KafkaTestCluster();

    private static final int KEYS = 200;
    private static final int TOTAL = 24_000;

    /** Fails once at each planned (point, occurrence), counting occurrences of each point over the whole job. */
    static final class PlannedFaults implements FaultInjector {
        private final Map<FaultPoint, Integer> plan;
        private final Map<FaultPoint, Integer> seen = new HashMap<>();
        final AtomicInteger fired = new AtomicInteger();
        /** The highest checkpoint id any point was reached at. */
        private long highestSeen = -1;
        /**
         * After a fault, points at checkpoints up to this id neither fire nor count: the attempt that failed may
         * still reach them (the next checkpoint was in flight) while it is cancelled, and a second fault there
         * would fail that same attempt, not a new one. The next attempt's checkpoints come after them.
         */
        private long quietUpTo = -1;

        PlannedFaults(Map<FaultPoint, Integer> plan) {
            this.plan = plan;
        }

        @Override
        public synchronized void at(FaultPoint point, String uid, int subtask, long checkpointId) {
            highestSeen = Math.max(highestSeen, checkpointId);
            Integer when = plan.get(point);
            if (when != null && checkpointId > quietUpTo
                    && seen.merge(point, 1, Integer::sum).equals(when)) {
                fired.incrementAndGet();
                quietUpTo = highestSeen + 1;
                throw new InjectedFailure(point + " at checkpoint " + checkpointId + " (" + uid + "/" + subtask + ")");
            }
        }
    }

    @ParameterizedTest(name = "parallelism {0}")
    @ValueSource(ints = {2, 3})
    void exactlyOnceThroughFailuresAtEveryDangerousMoment(int parallelism) throws Exception {
        String input = Pipelines.createTopic(kafka, "in", 4);
        String output = Pipelines.createTopic(kafka, "out", 4);
        Map<String, Long> expected = Pipelines.writeWords(kafka, input, TOTAL, KEYS);
        // early enough in a run of 20+ checkpoints that every one fires (occurrences count over all attempts)
        PlannedFaults faults = new PlannedFaults(Map.of(
                FaultPoint.AFTER_CHECKPOINT_COMPLETE_BEFORE_NOTIFY, 2,
                FaultPoint.BEFORE_COMMIT, 6,
                FaultPoint.AFTER_COMMIT, 10,
                FaultPoint.AFTER_SNAPSHOT, 24,
                FaultPoint.DURING_NOTIFY, 30));
        CountPipeline.RECORD_FAILURES.set(1);
        StreamEnvironment env = CountPipeline.build(kafka.bootstrapServers(), input, output, parallelism,
                DeliveryGuarantee.EXACTLY_ONCE, "eo-" + output, Duration.ofMillis(100));
        env.setFaultInjector(faults);
        JobMetrics metrics = env.execute("eo-" + output);

        assertEquals(5, faults.fired.get(), "every planned failure fired");
        assertTrue(metrics.numRestarts() >= 5, "restarts: " + metrics.numRestarts());
        SequenceChecker.Result result = SequenceChecker.check(Pipelines.readCommitted(kafka, output), expected);
        assertTrue(result.exact(), "after " + metrics.numRestarts() + " restarts: " + result);
        assertEquals(TOTAL, result.records());
        Pipelines.assertMarkersVisible(kafka, output);
    }

    @Test
    void deliveryNoneWritesWithoutTransactions() throws Exception {
        String input = Pipelines.createTopic(kafka, "in", 4);
        String output = Pipelines.createTopic(kafka, "out", 4);
        Map<String, Long> expected = Pipelines.writeWords(kafka, input, TOTAL, KEYS);
        CountPipeline.RECORD_FAILURES.set(0);
        StreamEnvironment env = CountPipeline.build(kafka.bootstrapServers(), input, output, 2,
                DeliveryGuarantee.NONE, null, Duration.ofMillis(100));
        JobMetrics metrics = env.execute("none-" + output);
        assertEquals(0, metrics.numRestarts());
        SequenceChecker.Result result = SequenceChecker.check(Pipelines.readCommitted(kafka, output), expected);
        assertTrue(result.exact(), "without failures NONE writes everything once: " + result);
        try (var admin = kafka.createAdmin()) {
            boolean anyTransaction = admin.listTransactions().all().get(30, TimeUnit.SECONDS).stream()
                    .anyMatch(t -> t.transactionalId().contains(output));
            assertTrue(!anyTransaction, "NONE uses no transactions");
        }
    }

    @Test
    void aGracefulStopCommitsEverythingReadBeforeItReturns(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        String input = Pipelines.createTopic(kafka, "in", 4);
        String output = Pipelines.createTopic(kafka, "out", 4);
        Map<String, Long> expected = Pipelines.writeWords(kafka, input, TOTAL, KEYS);
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(2);
        env.enableCheckpointing(Duration.ofMinutes(1)); // only the stop's checkpoint in this test
        env.getCheckpointConfig().setCheckpointStorage(dir.resolve("checkpoints").toUri().toString());
        env.fromSource(io.onceflow.kafka.source.KafkaSource.<String>builder().setBootstrapServers(kafka.bootstrapServers())
                        .setTopics(input).setDeserializer(io.onceflow.kafka.source.KafkaRecordDeserializer.utf8Values())
                        .build(), "input").uid("input")
                .keyBy(w -> w)
                .process(new io.onceflow.testing.RunningCount()).uid("count")
                .sinkTo(CountPipeline.sink(kafka.bootstrapServers(), output, DeliveryGuarantee.EXACTLY_ONCE, "stop-" + output))
                .uid("output");
        io.onceflow.api.JobClient job = env.executeAsync("stop-" + output);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (job.getMetrics().numRecordsIn() < TOTAL) {
            assertTrue(System.nanoTime() < deadline, "all input read within 60 s: " + job.getMetrics());
            Thread.sleep(20);
        }
        assertEquals(0, Pipelines.committedCount(kafka, output), "nothing committed before the stop's checkpoint");
        job.stop(Duration.ofSeconds(60));
        SequenceChecker.Result result = SequenceChecker.check(Pipelines.readCommitted(kafka, output), expected);
        assertTrue(result.exact() && result.records() == TOTAL, "visible when stop() returned, no restart: " + result);
        Pipelines.assertMarkersVisible(kafka, output);
    }

    @Test
    void atLeastOnceLosesNothing() throws Exception {
        String input = Pipelines.createTopic(kafka, "in", 4);
        String output = Pipelines.createTopic(kafka, "out", 4);
        Map<String, Long> expected = Pipelines.writeWords(kafka, input, TOTAL, KEYS);
        CountPipeline.RECORD_FAILURES.set(3);
        StreamEnvironment env = CountPipeline.build(kafka.bootstrapServers(), input, output, 2,
                DeliveryGuarantee.AT_LEAST_ONCE, null, Duration.ofMillis(100));
        JobMetrics metrics = env.execute("alo-" + output);
        assertTrue(metrics.numRestarts() >= 2, "restarts: " + metrics.numRestarts());
        SequenceChecker.Result result = SequenceChecker.check(Pipelines.readCommitted(kafka, output), expected);
        assertEquals(0, result.lost(), "at-least-once lost records: " + result);
    }

    @Test
    void crashAfterCheckpointCompletedButBeforeCommitCommitsOnRestart() throws Exception {
        String input = Pipelines.createTopic(kafka, "in", 4);
        String output = Pipelines.createTopic(kafka, "out", 4);
        Map<String, Long> expected = Pipelines.writeWords(kafka, input, TOTAL, KEYS);
        CountPipeline.RECORD_FAILURES.set(0);
        List<Long> visibleAtCrash = new java.util.concurrent.CopyOnWriteArrayList<>();
        List<Long> visibleBeforeRestoredCommit = new java.util.concurrent.CopyOnWriteArrayList<>();
        List<Long> visibleAfterRestoredCommit = new java.util.concurrent.CopyOnWriteArrayList<>();
        StreamEnvironment env = CountPipeline.build(kafka.bootstrapServers(), input, output, 2,
                DeliveryGuarantee.EXACTLY_ONCE, "crash-" + output, Duration.ofMillis(100));
        // counts of records a read_committed consumer sees (offsets would also count abort markers)
        env.setFaultInjector((point, uid, subtask, checkpointId) -> {
            if (checkpointId != 5) {
                return;
            }
            if (point == FaultPoint.AFTER_CHECKPOINT_COMPLETE_BEFORE_NOTIFY && visibleAtCrash.isEmpty()) {
                visibleAtCrash.add(Pipelines.readCommitted(kafka, output).size() + 0L);
                throw new InjectedFailure("crash after checkpoint 5 completed, before the sinks were told");
            } else if (point == FaultPoint.BEFORE_COMMIT) {
                // only the restored job commits checkpoint 5: the crash came before any commit of it
                visibleBeforeRestoredCommit.add(Pipelines.readCommitted(kafka, output).size() + 0L);
            } else if (point == FaultPoint.AFTER_COMMIT) {
                visibleAfterRestoredCommit.add(Pipelines.readCommitted(kafka, output).size() + 0L);
            }
        });
        JobMetrics metrics = env.execute("crash-" + output);
        assertEquals(1, visibleAtCrash.size(), "the crash happened");
        assertEquals(1, metrics.numRestarts());
        assertEquals(2, visibleBeforeRestoredCommit.size(), "both sink subtasks committed checkpoint 5 on restore");
        assertEquals(visibleAtCrash.get(0), java.util.Collections.min(visibleBeforeRestoredCommit),
                "nothing was committed between the crash and the restored commit of checkpoint 5");
        assertTrue(java.util.Collections.max(visibleAfterRestoredCommit) > visibleAtCrash.get(0),
                "checkpoint 5 held records that were not visible at the crash: " + visibleAtCrash + " -> "
                        + visibleAfterRestoredCommit);
        SequenceChecker.Result result = SequenceChecker.check(Pipelines.readCommitted(kafka, output), expected);
        assertTrue(result.exact(), "the pre-committed transactions of checkpoint 5 were committed once: " + result);
        assertTrue(visibleAtCrash.get(0) < TOTAL, "the crash came before the end: " + visibleAtCrash + " visible");
        Pipelines.assertMarkersVisible(kafka, output);
    }

    @Test
    void transactionsOfCheckpointsThatFailedAfterPreCommitAreCommittedByTheNextCompletedOne() throws Exception {
        String input = Pipelines.createTopic(kafka, "in", 4);
        String output = Pipelines.createTopic(kafka, "out", 4);
        Map<String, Long> expected = Pipelines.writeWords(kafka, input, TOTAL, KEYS);
        CountPipeline.RECORD_FAILURES.set(0);
        // every task acknowledges checkpoints 3 and 4 (the sinks pre-committed), then their metadata cannot be written
        io.onceflow.testing.FailingCheckpointStorage storage = io.onceflow.testing.FailingCheckpointStorage
                .wrap(new io.onceflow.runtime.storage.MemoryCheckpointStorage()).failMetadataOf(id -> id == 3 || id == 4);
        StreamEnvironment env = CountPipeline.build(kafka.bootstrapServers(), input, output, 2,
                DeliveryGuarantee.EXACTLY_ONCE, "failed-" + output, Duration.ofMillis(100));
        env.getCheckpointConfig().setCheckpointStorage(storage);
        env.getCheckpointConfig().setTolerableCheckpointFailureNumber(2);
        List<Long> visibleBeforeCheckpoint5 = new java.util.concurrent.CopyOnWriteArrayList<>();
        env.setFaultInjector((point, uid, subtask, checkpointId) -> {
            if (point == FaultPoint.AFTER_CHECKPOINT_COMPLETE_BEFORE_NOTIFY && checkpointId == 5) {
                visibleBeforeCheckpoint5.add(Pipelines.committedCount(kafka, output));
            }
        });
        JobMetrics metrics = env.execute("failed-" + output);

        assertEquals(2, storage.injectedFailures());
        assertEquals(2, metrics.numberOfFailedCheckpoints(), metrics.toString());
        assertEquals(0, metrics.numRestarts(), "tolerated: nothing restored, so only checkpoint 5 can have committed 3 and 4");
        assertEquals(1, visibleBeforeCheckpoint5.size());
        SequenceChecker.Result result = SequenceChecker.check(Pipelines.readCommitted(kafka, output), expected);
        assertTrue(result.exact() && result.records() == TOTAL, "committed exactly once: " + result);
        assertTrue(visibleBeforeCheckpoint5.get(0) < TOTAL, "checkpoint 5 came mid-run: " + visibleBeforeCheckpoint5);
        Pipelines.assertMarkersVisible(kafka, output);
    }

    @ParameterizedTest(name = "parallelism {0} -> {1}")
    @org.junit.jupiter.params.provider.CsvSource({"2, 3", "3, 1", "1, 3"})
    void resumingAtAnotherParallelismCommitsExactlyOnceAndLeavesNothingHanging(int from, int to,
            @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        String input = Pipelines.createTopic(kafka, "in", 4);
        String output = Pipelines.createTopic(kafka, "out", 4);
        Map<String, Long> expected = Pipelines.writeWords(kafka, input, TOTAL, KEYS);
        CountPipeline.RECORD_FAILURES.set(0);
        String storage = dir.resolve("checkpoints").toUri().toString();

        StreamEnvironment first = CountPipeline.build(kafka.bootstrapServers(), input, output, from,
                DeliveryGuarantee.EXACTLY_ONCE, "rescale-" + output, Duration.ofMillis(100));
        first.getCheckpointConfig().setCheckpointStorage(storage);
        io.onceflow.api.JobClient job = first.executeAsync("rescale");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (Pipelines.committedCount(kafka, output) < TOTAL / 4 && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        job.cancel();
        job.awaitTermination(Duration.ofSeconds(60));
        long before = Pipelines.readCommitted(kafka, output).size();
        assertTrue(before > 0 && before < TOTAL, "the first run stopped midway: " + before);

        StreamEnvironment second = CountPipeline.build(kafka.bootstrapServers(), input, output, to,
                DeliveryGuarantee.EXACTLY_ONCE, "rescale-" + output, Duration.ofMillis(100));
        second.getCheckpointConfig().setCheckpointStorage(storage);
        second.execute("rescale");

        SequenceChecker.Result result = SequenceChecker.check(Pipelines.readCommitted(kafka, output), expected);
        assertTrue(result.exact(), "after resuming at parallelism " + to + ": " + result);
        Pipelines.assertMarkersVisible(kafka, output);
    }

    @Test
    void startUpValidationSaysWhatToChange() throws Exception {
        String output = Pipelines.createTopic(kafka, "out", 1);

        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> KafkaSink.<String>builder().setBootstrapServers(kafka.bootstrapServers())
                        .setRecordSerializer(s -> null).build());
        assertTrue(missing.getMessage().contains("EXACTLY_ONCE needs a transactional id prefix"), missing.getMessage());

        // a sink whose timeout exceeds the broker's 15 minutes
        StreamEnvironment env = StreamEnvironment.create();
        env.enableCheckpointing(Duration.ofSeconds(1));
        env.getCheckpointConfig().setCheckpointStorage("memory:");
        env.fromSource(io.onceflow.testing.SequenceSource.bounded(1, 10, 2), "words")
                .sinkTo(KafkaSink.<String>builder().setBootstrapServers(kafka.bootstrapServers())
                        .setRecordSerializer(s -> new org.apache.kafka.clients.producer.ProducerRecord<>(output, s.getBytes()))
                        .setTransactionalIdPrefix("too-long").setTransactionTimeout(Duration.ofMinutes(20)).build())
                .uid("sink");
        IllegalArgumentException above = assertThrows(IllegalArgumentException.class, () -> env.executeAsync("too-long"));
        assertTrue(above.getMessage().contains("above the broker's transaction.max.timeout.ms (900000 ms)"), above.getMessage());

        StreamEnvironment env2 = StreamEnvironment.create();
        env2.enableCheckpointing(Duration.ofSeconds(1));
        env2.getCheckpointConfig().setCheckpointStorage("memory:");
        env2.getCheckpointConfig().setCheckpointTimeout(Duration.ofMinutes(10));
        env2.fromSource(io.onceflow.testing.SequenceSource.bounded(1, 10, 2), "words")
                .sinkTo(KafkaSink.<String>builder().setBootstrapServers(kafka.bootstrapServers())
                        .setRecordSerializer(s -> new org.apache.kafka.clients.producer.ProducerRecord<>(output, s.getBytes()))
                        .setTransactionalIdPrefix("too-short").setTransactionTimeout(Duration.ofMinutes(5)).build())
                .uid("sink");
        IllegalArgumentException shortTimeout = assertThrows(IllegalArgumentException.class, () -> env2.executeAsync("short"));
        assertTrue(shortTimeout.getMessage().contains("not comfortably larger than the checkpoint interval"),
                shortTimeout.getMessage());

        // 5 min covers one checkpoint (1 s + 1 min) and the 1 min recovery, but not 6 in a row
        StreamEnvironment tolerant = StreamEnvironment.create();
        tolerant.enableCheckpointing(Duration.ofSeconds(1));
        tolerant.getCheckpointConfig().setCheckpointStorage("memory:");
        tolerant.getCheckpointConfig().setCheckpointTimeout(Duration.ofMinutes(1));
        tolerant.getCheckpointConfig().setTolerableCheckpointFailureNumber(5);
        tolerant.fromSource(io.onceflow.testing.SequenceSource.bounded(1, 10, 2), "words")
                .sinkTo(KafkaSink.<String>builder().setBootstrapServers(kafka.bootstrapServers())
                        .setRecordSerializer(s -> new org.apache.kafka.clients.producer.ProducerRecord<>(output, s.getBytes()))
                        .setTransactionalIdPrefix("tolerant").setTransactionTimeout(Duration.ofMinutes(5)).build())
                .uid("sink");
        IllegalArgumentException tolerated = assertThrows(IllegalArgumentException.class, () -> tolerant.executeAsync("tolerant"));
        assertTrue(tolerated.getMessage().contains("for each of 6 checkpoints in a row (5 tolerable failed ones"),
                tolerated.getMessage());

        StreamEnvironment env3 = StreamEnvironment.create();
        var words = env3.fromSource(io.onceflow.testing.SequenceSource.bounded(1, 10, 2), "words");
        words.sinkTo(CountPipeline.sink(kafka.bootstrapServers(), output, DeliveryGuarantee.EXACTLY_ONCE, "same")).uid("a");
        words.sinkTo(CountPipeline.sink(kafka.bootstrapServers(), output, DeliveryGuarantee.EXACTLY_ONCE, "same")).uid("b");
        IllegalArgumentException same = assertThrows(IllegalArgumentException.class, () -> env3.executeAsync("same"));
        assertTrue(same.getMessage().contains("use the same transactional id prefix 'same'"), same.getMessage());
    }
}
