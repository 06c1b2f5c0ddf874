package io.onceflow.kafka.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.JobMetrics;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.kafka.testing.KafkaTestCluster;
import io.onceflow.testing.FaultInjector;
import io.onceflow.testing.FaultPoint;
import io.onceflow.testing.InjectedFailure;
import io.onceflow.testing.SequenceChecker;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
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
        private final Map<FaultPoint, AtomicInteger> seen = new ConcurrentHashMap<>();
        final AtomicInteger fired = new AtomicInteger();

        PlannedFaults(Map<FaultPoint, Integer> plan) {
            this.plan = plan;
        }

        @Override
        public void at(FaultPoint point, String uid, int subtask, long checkpointId) {
            Integer when = plan.get(point);
            if (when != null && seen.computeIfAbsent(point, p -> new AtomicInteger()).incrementAndGet() == when) {
                fired.incrementAndGet();
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
        PlannedFaults faults = new PlannedFaults(Map.of(
                FaultPoint.AFTER_CHECKPOINT_COMPLETE_BEFORE_NOTIFY, 2,
                FaultPoint.BEFORE_COMMIT, 6,
                FaultPoint.AFTER_COMMIT, 12,
                FaultPoint.AFTER_SNAPSHOT, 40,
                FaultPoint.DURING_NOTIFY, 60));
        CountPipeline.RECORD_FAILURES.set(1);
        StreamEnvironment env = CountPipeline.build(kafka.bootstrapServers(), input, output, parallelism,
                DeliveryGuarantee.EXACTLY_ONCE, "eo-" + output, Duration.ofMillis(100));
        env.setFaultInjector(faults);
        JobMetrics metrics = env.execute("eo-" + output);

        assertTrue(faults.fired.get() >= 4, "planned failures fired: " + faults.fired);
        assertTrue(metrics.numRestarts() >= 4, "restarts: " + metrics.numRestarts());
        SequenceChecker.Result result = SequenceChecker.check(Pipelines.readCommitted(kafka, output), expected);
        assertTrue(result.exact(), "after " + metrics.numRestarts() + " restarts: " + result);
        assertEquals(TOTAL, result.records());
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
        List<Long> crashedAfter = new java.util.concurrent.CopyOnWriteArrayList<>();
        StreamEnvironment env = CountPipeline.build(kafka.bootstrapServers(), input, output, 2,
                DeliveryGuarantee.EXACTLY_ONCE, "crash-" + output, Duration.ofMillis(100));
        env.setFaultInjector((point, uid, subtask, checkpointId) -> {
            if (point == FaultPoint.AFTER_CHECKPOINT_COMPLETE_BEFORE_NOTIFY && checkpointId == 5 && crashedAfter.isEmpty()) {
                crashedAfter.add(checkpointId);
                // nothing of checkpoint 5 may be visible yet: its transactions are pre-committed, not committed
                long visibleBefore = Pipelines.readCommitted(kafka, output).size();
                crashedAfter.add(visibleBefore);
                throw new InjectedFailure("crash after checkpoint 5 completed, before the sinks were told");
            }
        });
        JobMetrics metrics = env.execute("crash-" + output);
        assertEquals(2, crashedAfter.size(), "the crash happened");
        assertEquals(1, metrics.numRestarts());
        SequenceChecker.Result result = SequenceChecker.check(Pipelines.readCommitted(kafka, output), expected);
        assertTrue(result.exact(), "the pre-committed transactions of checkpoint 5 were committed once: " + result);
        assertTrue(crashedAfter.get(1) < TOTAL, "the crash came before the end: " + crashedAfter.get(1) + " visible");
        Pipelines.assertMarkersVisible(kafka, output);
    }

    @Test
    void resumingAtAnotherParallelismCommitsExactlyOnceAndLeavesNothingHanging(@org.junit.jupiter.api.io.TempDir
                                                                              java.nio.file.Path dir) throws Exception {
        String input = Pipelines.createTopic(kafka, "in", 4);
        String output = Pipelines.createTopic(kafka, "out", 4);
        Map<String, Long> expected = Pipelines.writeWords(kafka, input, TOTAL, KEYS);
        CountPipeline.RECORD_FAILURES.set(0);
        String storage = dir.resolve("checkpoints").toUri().toString();

        StreamEnvironment first = CountPipeline.build(kafka.bootstrapServers(), input, output, 2,
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

        StreamEnvironment second = CountPipeline.build(kafka.bootstrapServers(), input, output, 3,
                DeliveryGuarantee.EXACTLY_ONCE, "rescale-" + output, Duration.ofMillis(100));
        second.getCheckpointConfig().setCheckpointStorage(storage);
        second.execute("rescale");

        SequenceChecker.Result result = SequenceChecker.check(Pipelines.readCommitted(kafka, output), expected);
        assertTrue(result.exact(), "after resuming at parallelism 3: " + result);
        Pipelines.assertMarkersVisible(kafka, output);
    }

    @Test
    void startUpValidationSaysWhatToChange() throws Exception {
        String input = Pipelines.createTopic(kafka, "in", 1);
        String output = Pipelines.createTopic(kafka, "out", 1);

        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> KafkaSink.<String>builder().setBootstrapServers(kafka.bootstrapServers())
                        .setRecordSerializer(s -> null).build());
        assertTrue(missing.getMessage().contains("EXACTLY_ONCE needs a transactional id prefix"), missing.getMessage());

        StreamEnvironment tooLong = CountPipeline.build(kafka.bootstrapServers(), input, output, 1,
                DeliveryGuarantee.EXACTLY_ONCE, "x", Duration.ofSeconds(1));
        // replace the sink by one whose timeout exceeds the broker's 15 minutes
        StreamEnvironment env = StreamEnvironment.create();
        env.enableCheckpointing(Duration.ofSeconds(1));
        env.fromSource(io.onceflow.testing.SequenceSource.bounded(1, 10, 2), "words")
                .sinkTo(KafkaSink.<String>builder().setBootstrapServers(kafka.bootstrapServers())
                        .setRecordSerializer(s -> new org.apache.kafka.clients.producer.ProducerRecord<>(output, s.getBytes()))
                        .setTransactionalIdPrefix("too-long").setTransactionTimeout(Duration.ofMinutes(20)).build())
                .uid("sink");
        IllegalArgumentException above = assertThrows(IllegalArgumentException.class, () -> env.executeAsync("too-long"));
        assertTrue(above.getMessage().contains("above the broker's transaction.max.timeout.ms (900000 ms)"), above.getMessage());

        StreamEnvironment env2 = StreamEnvironment.create();
        env2.enableCheckpointing(Duration.ofSeconds(1));
        env2.getCheckpointConfig().setCheckpointTimeout(Duration.ofMinutes(10));
        env2.fromSource(io.onceflow.testing.SequenceSource.bounded(1, 10, 2), "words")
                .sinkTo(KafkaSink.<String>builder().setBootstrapServers(kafka.bootstrapServers())
                        .setRecordSerializer(s -> new org.apache.kafka.clients.producer.ProducerRecord<>(output, s.getBytes()))
                        .setTransactionalIdPrefix("too-short").setTransactionTimeout(Duration.ofMinutes(5)).build())
                .uid("sink");
        IllegalArgumentException shortTimeout = assertThrows(IllegalArgumentException.class, () -> env2.executeAsync("short"));
        assertTrue(shortTimeout.getMessage().contains("not comfortably larger than the checkpoint interval"),
                shortTimeout.getMessage());

        StreamEnvironment env3 = StreamEnvironment.create();
        var words = env3.fromSource(io.onceflow.testing.SequenceSource.bounded(1, 10, 2), "words");
        words.sinkTo(CountPipeline.sink(kafka.bootstrapServers(), output, DeliveryGuarantee.EXACTLY_ONCE, "same")).uid("a");
        words.sinkTo(CountPipeline.sink(kafka.bootstrapServers(), output, DeliveryGuarantee.EXACTLY_ONCE, "same")).uid("b");
        IllegalArgumentException same = assertThrows(IllegalArgumentException.class, () -> env3.executeAsync("same"));
        assertTrue(same.getMessage().contains("use the same transactional id prefix 'same'"), same.getMessage());
        assertTrue(tooLong != null);
    }
}
