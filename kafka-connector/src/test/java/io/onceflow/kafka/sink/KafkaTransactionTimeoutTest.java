package io.onceflow.kafka.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.JobClient;
import io.onceflow.api.JobExecutionException;
import io.onceflow.api.JobMetrics;
import io.onceflow.api.JobStatus;
import io.onceflow.api.RestartStrategies;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.api.functions.Collector;
import io.onceflow.api.functions.FlatMapFunction;
import io.onceflow.kafka.source.KafkaRecordDeserializer;
import io.onceflow.kafka.source.KafkaSource;
import io.onceflow.kafka.testing.KafkaTestCluster;
import io.onceflow.runtime.fault.FaultPoint;
import io.onceflow.testing.InjectedFailure;
import io.onceflow.testing.RunningCount;
import io.onceflow.testing.SequenceChecker;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A crash right after a checkpoint completed, then a restart that comes only after the broker aborted
 * the checkpoint's pre-committed transactions (a broker with a 5 s {@code transaction.max.timeout.ms}):
 * the restored commit cannot succeed. By default the job stops at once, without a restart loop, and
 * says what was lost; with {@code ignoreFailuresAfterTransactionTimeout()} it goes on, and exactly the
 * records it reports lost are missing from the read_committed output, with no duplicates.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class KafkaTransactionTimeoutTest {

    @RegisterExtension
    static final KafkaTestCluster kafka = new KafkaTestCluster()
            .withBrokerProperty("transaction.max.timeout.ms", "5000")
            .withBrokerProperty("transaction.abort.timed.out.transaction.cleanup.interval.ms", "500");

    private static final int TOTAL = 60_000;
    private static final int KEYS = 100;

    /** Passes words on at about 10,000 a second per subtask, so the crash lands mid-run. */
    static final class Paced implements FlatMapFunction<String, String> {
        private long seen;

        @Override
        public void flatMap(String word, Collector<String> out) throws Exception {
            if (++seen % 10 == 0) {
                Thread.sleep(1);
            }
            out.collect(word);
        }
    }

    private static StreamEnvironment job(String input, String output, boolean acceptLoss, AtomicLong crashedAt) {
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(2);
        env.enableCheckpointing(Duration.ofMillis(200));
        env.getCheckpointConfig().setCheckpointStorage("memory:");
        env.getCheckpointConfig().setCheckpointTimeout(Duration.ofMillis(1500));
        env.getCheckpointConfig().setTolerableCheckpointFailureNumber(1); // the first one may be slow on a busy machine
        // down for 8 s after the crash: longer than the 5 s transaction timeout
        env.setRestartStrategy(RestartStrategies.fixedDelay(5, Duration.ofSeconds(8)));
        env.setFaultInjector((point, uid, subtask, checkpointId) -> {
            if (point == FaultPoint.AFTER_CHECKPOINT_COMPLETE_BEFORE_NOTIFY && checkpointId >= 3
                    && crashedAt.compareAndSet(-1, checkpointId)) {
                throw new InjectedFailure("crash after checkpoint " + checkpointId + " completed, before its commit");
            }
        });
        KafkaSinkBuilder<String> sink = KafkaSink.<String>builder().setBootstrapServers(kafka.bootstrapServers())
                .setRecordSerializer(line -> {
                    int comma = line.lastIndexOf(',');
                    return new ProducerRecord<>(output, line.substring(0, comma).getBytes(StandardCharsets.UTF_8),
                            line.substring(comma + 1).getBytes(StandardCharsets.UTF_8));
                })
                .setTransactionalIdPrefix("timeout-" + output)
                .setTransactionTimeout(Duration.ofSeconds(5))
                .setRecoveryTime(Duration.ofSeconds(1)); // 2 x (0.2 s + 1.5 s) + 1 s < 5 s
        if (acceptLoss) {
            sink.ignoreFailuresAfterTransactionTimeout();
        }
        env.fromSource(KafkaSource.<String>builder().setBootstrapServers(kafka.bootstrapServers()).setTopics(input)
                        .setDeserializer(KafkaRecordDeserializer.utf8Values()).setBounded().build(), "input").uid("input")
                .flatMap(new Paced()).uid("pace")
                .keyBy(w -> w)
                .process(new RunningCount()).uid("count")
                .sinkTo(sink.build()).uid("output");
        return env;
    }

    @Test
    void anExpiredPreCommittedTransactionStopsTheJobWithoutARestartLoopAndSaysWhatWasLost() throws Exception {
        String input = Pipelines.createTopic(kafka, "in", 2);
        String output = Pipelines.createTopic(kafka, "out", 2);
        Pipelines.writeWords(kafka, input, TOTAL, KEYS);
        AtomicLong crashedAt = new AtomicLong(-1);
        JobClient job = job(input, output, false, crashedAt).executeAsync("expired-" + output);
        JobExecutionException e = assertThrows(JobExecutionException.class, () -> job.awaitTermination(Duration.ofSeconds(120)));
        assertEquals(JobStatus.FAILED, job.getStatus());
        assertEquals(1, job.getMetrics().numRestarts(), "one restart (the crash), then a stop: no restart loop");
        String message = e.getMessage();
        assertTrue(message.contains("checkpoint " + crashedAt.get()) && message.contains("LOST")
                        && message.contains("timeout-" + output + "-p2-") && message.contains("record(s)")
                        && message.contains("ignoreFailuresAfterTransactionTimeout")
                        && message.contains("--ignore-failures-after-transaction-timeout"),
                "names the checkpoint, the transactional id, the records and the options: " + message);
        Pipelines.assertMarkersVisible(kafka, output);
    }

    @Test
    void acceptingTheLossGoesOnAndCountsExactlyWhatIsMissing() throws Exception {
        String input = Pipelines.createTopic(kafka, "in", 2);
        String output = Pipelines.createTopic(kafka, "out", 2);
        Map<String, Long> expected = Pipelines.writeWords(kafka, input, TOTAL, KEYS);
        AtomicLong crashedAt = new AtomicLong(-1);
        JobClient job = job(input, output, true, crashedAt).executeAsync("accepted-" + output);
        assertEquals(JobStatus.FINISHED, job.awaitTermination(Duration.ofSeconds(120)));
        JobMetrics metrics = job.getMetrics();
        long reportedLost = job.getCounters().getOrDefault("output.recordsLostAfterTransactionTimeout", 0L);
        long ignoredCommits = job.getCounters().getOrDefault("output.commitsIgnoredAfterTransactionTimeout", 0L);

        SequenceChecker.Result result = SequenceChecker.check(Pipelines.readCommitted(kafka, output), expected);
        assertTrue(crashedAt.get() >= 3 && metrics.numRestarts() == 1, "crashed once: " + crashedAt + ", " + metrics);
        assertTrue(ignoredCommits >= 1 && reportedLost > 0, "the loss is counted: " + job.getCounters());
        assertEquals(0, result.duplicates(), result.toString());
        assertEquals(0, result.unexpected(), result.toString());
        assertEquals(reportedLost, result.lost(), "exactly the records reported lost are missing: " + result);
        Pipelines.assertMarkersVisible(kafka, output);
    }
}
