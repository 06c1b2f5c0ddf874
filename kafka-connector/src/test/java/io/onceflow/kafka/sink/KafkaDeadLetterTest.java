package io.onceflow.kafka.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.JobClient;
import io.onceflow.api.JobExecutionException;
import io.onceflow.api.JobMetrics;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.kafka.source.KafkaRecordDeserializer;
import io.onceflow.kafka.source.KafkaSource;
import io.onceflow.kafka.testing.KafkaTestCluster;
import io.onceflow.runtime.fault.FaultPoint;
import io.onceflow.testing.SequenceChecker;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Records the deserializer cannot handle go to a dead-letter topic inside the checkpoint: through
 * failures at the dangerous moments every poison record is there exactly once, with its origin and
 * error, and every good record is counted exactly once.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class KafkaDeadLetterTest {

    @RegisterExtension
    static final KafkaTestCluster kafka = new KafkaTestCluster();

    private static final int TOTAL = 24_000;
    private static final int KEYS = 200;

    @Test
    void poisonRecordsGoToTheDeadLetterTopicExactlyOnceThroughFailures() throws Exception {
        String input = Pipelines.createTopic(kafka, "in", 4);
        String output = Pipelines.createTopic(kafka, "out", 4);
        String deadLetters = Pipelines.createTopic(kafka, "dlq", 2);
        Map<String, Integer> poisonKeys = new HashMap<>();
        Map<String, Long> expected = Pipelines.writeWordsWithPoison(kafka, input, TOTAL, KEYS, 97, poisonKeys);
        CountPipeline.RECORD_FAILURES.set(1);
        StreamEnvironment env = CountPipeline.build(kafka.bootstrapServers(), input, output, 2,
                DeliveryGuarantee.EXACTLY_ONCE, "dl-" + output, Duration.ofMillis(100), deadLetters);
        KafkaExactlyOnceTest.PlannedFaults faults = new KafkaExactlyOnceTest.PlannedFaults(Map.of(
                FaultPoint.AFTER_CHECKPOINT_COMPLETE_BEFORE_NOTIFY, 2,
                FaultPoint.BEFORE_COMMIT, 8,
                FaultPoint.AFTER_SNAPSHOT, 30));
        env.setFaultInjector(faults);
        JobClient job = env.executeAsync("dl-" + output);
        job.awaitTermination(Duration.ofSeconds(150));
        JobMetrics metrics = job.getMetrics();

        assertEquals(3, faults.fired.get(), "every planned failure fired");
        SequenceChecker.Result result = SequenceChecker.check(Pipelines.readCommitted(kafka, output), expected);
        assertTrue(result.exact(), "good records counted exactly once after " + metrics.numRestarts() + " restarts: " + result);
        Pipelines.assertEachPoisonRecordOnce(kafka, deadLetters, input, poisonKeys);
        int poisonRecords = poisonKeys.values().stream().mapToInt(Integer::intValue).sum();
        assertTrue(job.getCounters().get("input.deadLetters") >= poisonRecords, job.getCounters().toString());
        Pipelines.assertMarkersVisible(kafka, deadLetters);
    }

    static String picky(String word) {
        if (word.endsWith("7")) {
            throw new IllegalArgumentException("cannot handle " + word);
        }
        return word;
    }

    @Test
    void recordsAUserFunctionThrowsOnGoToTheDeadLetterTopicExactlyOnce() throws Exception {
        String input = Pipelines.createTopic(kafka, "in", 4);
        String output = Pipelines.createTopic(kafka, "out", 4);
        String deadLetters = Pipelines.createTopic(kafka, "dlq", 2);
        Map<String, Long> words = Pipelines.writeWords(kafka, input, TOTAL, KEYS);
        io.onceflow.api.OutputTag<io.onceflow.api.FailedRecord<String>> failed = new io.onceflow.api.OutputTag<>("failed");
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(2);
        env.enableCheckpointing(Duration.ofMillis(100));
        env.getCheckpointConfig().setCheckpointStorage("memory:");
        env.setRestartStrategy(io.onceflow.api.RestartStrategies.fixedDelay(10, Duration.ofMillis(50)));
        KafkaExactlyOnceTest.PlannedFaults faults = new KafkaExactlyOnceTest.PlannedFaults(Map.of(
                FaultPoint.AFTER_CHECKPOINT_COMPLETE_BEFORE_NOTIFY, 2, FaultPoint.BEFORE_COMMIT, 6));
        env.setFaultInjector(faults);
        var parsed = env.fromSource(KafkaSource.<String>builder().setBootstrapServers(kafka.bootstrapServers())
                        .setTopics(input).setDeserializer(KafkaRecordDeserializer.strictUtf8Values()).setBounded().build(),
                        "input").uid("input")
                .flatMap(new CountPipeline.SlowSplit()).uid("split")
                .map(KafkaDeadLetterTest::picky).uid("picky").catchFailures(failed);
        parsed.getSideOutput(failed)
                .sinkTo(KafkaSink.<io.onceflow.api.FailedRecord<String>>builder().setBootstrapServers(kafka.bootstrapServers())
                        .setRecordSerializer(io.onceflow.kafka.source.DeadLetter.failedRecordsToTopic(deadLetters,
                                w -> w.getBytes(java.nio.charset.StandardCharsets.UTF_8)))
                        .setTransactionalIdPrefix("failed-dlq-" + output).build()).uid("dead-letters");
        parsed.keyBy(w -> w).process(new io.onceflow.testing.RunningCount()).uid("count")
                .sinkTo(CountPipeline.sink(kafka.bootstrapServers(), output, DeliveryGuarantee.EXACTLY_ONCE, "failed-" + output))
                .uid("output");
        CountPipeline.RECORD_FAILURES.set(0);
        JobClient job = env.executeAsync("failed-" + output);
        job.awaitTermination(Duration.ofSeconds(150));

        assertEquals(2, faults.fired.get(), "every planned failure fired");
        Map<String, Long> good = new java.util.HashMap<>(words);
        Map<String, Long> bad = new java.util.HashMap<>();
        words.forEach((w, n) -> {
            if (w.endsWith("7")) {
                bad.put(w, n);
                good.remove(w);
            }
        });
        SequenceChecker.Result result = SequenceChecker.check(Pipelines.readCommitted(kafka, output), good);
        assertTrue(result.exact(), "good records counted exactly once: " + result);
        Map<String, Long> letters = new java.util.HashMap<>();
        for (var r : Pipelines.readCommittedRecords(kafka, deadLetters)) {
            letters.merge(Pipelines.text(r.value()), 1L, Long::sum);
            assertEquals("picky", new String(r.headers().lastHeader(io.onceflow.kafka.source.DeadLetter.HEADER_PREFIX
                    + "operator").value(), java.nio.charset.StandardCharsets.UTF_8));
        }
        assertEquals(bad, letters, "each record the function threw on, exactly once");
    }

    @Test
    void aFloodOfBadRecordsStopsTheJobWithoutARestartLoop() throws Exception {
        String input = Pipelines.createTopic(kafka, "in", 1);
        String deadLetters = Pipelines.createTopic(kafka, "dlq", 1);
        Pipelines.writeWordsWithPoison(kafka, input, 4_000, 10, 2, new HashMap<>());
        StreamEnvironment env = CountPipeline.build(kafka.bootstrapServers(), input, deadLetters + "-out", 1,
                DeliveryGuarantee.EXACTLY_ONCE, "flood-" + input, Duration.ofMillis(100), deadLetters);
        JobClient job = env.executeAsync("flood-" + input);
        JobExecutionException e = assertThrows(JobExecutionException.class, () -> job.awaitTermination(Duration.ofSeconds(60)));
        assertEquals(0, job.getMetrics().numRestarts(), "a restart would read the same records again");
        assertTrue(e.getMessage().contains("could not be deserialized, more than the dead-letter limits allow")
                && e.getMessage().contains("10 % of the records") && e.getMessage().contains(input + "-0@"),
                e.getMessage());
    }

    @Test
    void deadLettersThatNobodyReadsAreRefusedAtStart() {
        StreamEnvironment env = StreamEnvironment.create();
        env.fromSource(KafkaSource.<String>builder().setBootstrapServers(kafka.bootstrapServers()).setTopics("any")
                        .setDeserializer(KafkaRecordDeserializer.strictUtf8Values()).enableDeadLetters().build(), "input")
                .uid("input")
                .sinkTo(CountPipeline.sink(kafka.bootstrapServers(), "any", DeliveryGuarantee.AT_LEAST_ONCE, null));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> env.executeAsync("unread"));
        assertTrue(e.getMessage().contains("nothing reads them, so they would be lost")
                && e.getMessage().contains("getSideOutput(KafkaSource.DEAD_LETTERS)"), e.getMessage());
    }
}
