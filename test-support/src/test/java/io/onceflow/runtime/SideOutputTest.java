package io.onceflow.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.DataStream;
import io.onceflow.api.JobMetrics;
import io.onceflow.api.OutputTag;
import io.onceflow.api.RestartStrategies;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.api.functions.Collector;
import io.onceflow.api.functions.ProcessFunction;
import io.onceflow.testing.CommittedStore;
import io.onceflow.runtime.fault.FaultPoint;
import io.onceflow.testing.InjectedFailure;
import io.onceflow.testing.RunningCount;
import io.onceflow.testing.SequenceChecker;
import io.onceflow.testing.SequenceSource;
import io.onceflow.testing.TransactionalTestSink;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Side outputs are streams of their own, exactly-once through restores like the main output. */
class SideOutputTest {

    static final OutputTag<String> ODD = new OutputTag<>("odd keys");

    /** Keys with an odd number go to the side output, the rest on. */
    static final class SplitOdd extends ProcessFunction<String, String> {
        @Override
        public void processElement(String word, Collector<String> out) {
            if (Integer.parseInt(word.substring(word.indexOf('-') + 1)) % 2 == 1) {
                out.output(ODD, word);
            } else {
                out.collect(word);
            }
        }
    }

    static final OutputTag<io.onceflow.api.FailedRecord<String>> FAILED = new OutputTag<>("failed words");

    /** Throws on every key whose number ends in 7. */
    static String picky(String word) {
        if (word.endsWith("7")) {
            throw new IllegalArgumentException("cannot handle " + word);
        }
        return word;
    }

    /**
     * Parallelism 2, checkpoints every 30 ms in memory, and three failures right after a checkpoint
     * completed, before its notice: each restore must neither lose nor repeat a committed record.
     */
    private static StreamEnvironment restoringThreeTimes() {
        AtomicInteger failures = new AtomicInteger();
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(2);
        env.enableCheckpointing(Duration.ofMillis(30));
        env.getCheckpointConfig().setCheckpointStorage("memory:");
        env.setRestartStrategy(RestartStrategies.fixedDelay(10, Duration.ZERO));
        env.setFaultInjector((point, uid, subtask, checkpointId) -> {
            if (point == FaultPoint.AFTER_CHECKPOINT_COMPLETE_BEFORE_NOTIFY && checkpointId % 5 == 0
                    && failures.incrementAndGet() <= 3) {
                throw new InjectedFailure("restore from checkpoint " + checkpointId);
            }
        });
        return env;
    }

    @Test
    void recordsAUserFunctionThrowsOnGoToItsFailureOutputExactlyOnce() throws Exception {
        long total = 40_000;
        int keys = 40;
        CommittedStore good = CommittedStore.inMemory();
        CommittedStore failed = CommittedStore.inMemory();
        StreamEnvironment env = restoringThreeTimes();
        DataStream<String> parsed = env.fromSource(SequenceSource.bounded(2, total, keys).throttled(10_000), "words")
                .uid("source")
                .map(SideOutputTest::picky).uid("picky")
                // every failing record of the run fits one interval: a machine slow enough to stretch an interval
                // past the default budget (1,000) must not stop the job (the budget has its own test below)
                .catchFailures(FAILED, (int) total);
        parsed.keyBy(w -> w).process(new RunningCount()).uid("count").sinkTo(new TransactionalTestSink(good)).uid("good");
        parsed.getSideOutput(FAILED)
                .map(f -> f.record() + "|" + f.operatorUid() + "|" + f.exceptionClass() + "|" + f.exceptionMessage())
                .keyBy(line -> line.substring(0, line.indexOf('|')))
                .process(new RunningCount()).uid("count-failed")
                .sinkTo(new TransactionalTestSink(failed)).uid("failed");
        io.onceflow.api.JobClient job = env.executeAsync("failures");
        job.awaitTermination(Duration.ofSeconds(60));

        Map<String, Long> all = SequenceChecker.expectedForSequence(total, keys);
        Map<String, Long> goodKeys = new HashMap<>();
        Map<String, Long> failedKeys = new HashMap<>();
        all.forEach((k, n) -> {
            if (k.endsWith("7")) {
                failedKeys.put(k + "|picky|java.lang.IllegalArgumentException|cannot handle " + k, n);
            } else {
                goodKeys.put(k, n);
            }
        });
        assertTrue(job.getMetrics().numRestarts() >= 1, job.getMetrics().toString());
        SequenceChecker.Result goodResult = SequenceChecker.check(good.readAll(), goodKeys);
        SequenceChecker.Result failedResult = SequenceChecker.check(failed.readAll(), failedKeys);
        assertTrue(goodResult.exact(), "good records: " + goodResult);
        assertTrue(failedResult.exact(), "every failed record once, with operator and error: " + failedResult);
        assertTrue(job.getCounters().get("picky.failedRecords") >= failedResult.records(), job.getCounters().toString());
    }

    @Test
    void failuresNobodyReadsAreRefusedAndTooManyStopTheJob() throws Exception {
        StreamEnvironment unread = StreamEnvironment.create();
        unread.fromSource(SequenceSource.bounded(1, 100, 10), "words").map(SideOutputTest::picky).uid("picky")
                .catchFailures(FAILED)
                .sinkTo(new TransactionalTestSink(CommittedStore.inMemory()));
        JobConfigurationException refused = org.junit.jupiter.api.Assertions.assertThrows(JobConfigurationException.class,
                () -> unread.executeAsync("unread"));
        assertTrue(refused.getMessage().contains("nothing reads it, so they would be lost"), refused.getMessage());

        StreamEnvironment flood = StreamEnvironment.create();
        flood.setRestartStrategy(RestartStrategies.fixedDelay(10, Duration.ZERO));
        DataStream<String> parsed = flood.fromSource(SequenceSource.bounded(1, 10_000, 10), "words")
                .map(SideOutputTest::picky).uid("picky").catchFailures(FAILED, 50);
        parsed.sinkTo(new TransactionalTestSink(CommittedStore.inMemory()));
        parsed.getSideOutput(FAILED).map(Object::toString).sinkTo(new TransactionalTestSink(CommittedStore.inMemory()));
        io.onceflow.api.JobClient job = flood.executeAsync("flood");
        io.onceflow.api.JobExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(
                io.onceflow.api.JobExecutionException.class, () -> job.awaitTermination(Duration.ofSeconds(30)));
        assertTrue(e.getMessage().contains("more than the 50 allowed by catchFailures"), e.getMessage());
        assertEquals(0, job.getMetrics().numRestarts(), "no restart into the same records");
    }

    @Test
    void bothOutputsAreCountedExactlyOnceThroughRestores() throws Exception {
        long total = 40_000;
        int keys = 40;
        CommittedStore even = CommittedStore.inMemory();
        CommittedStore odd = CommittedStore.inMemory();
        StreamEnvironment env = restoringThreeTimes();
        DataStream<String> split = env.fromSource(SequenceSource.bounded(2, total, keys).throttled(10_000), "words")
                .uid("source")
                .process(new SplitOdd()).uid("split");
        split.keyBy(w -> w).process(new RunningCount()).uid("count-even")
                .sinkTo(new TransactionalTestSink(even)).uid("even");
        split.getSideOutput(ODD).setParallelism(1)
                .keyBy(w -> w).process(new RunningCount()).uid("count-odd").setParallelism(1)
                .sinkTo(new TransactionalTestSink(odd)).uid("odd").setParallelism(1);
        JobMetrics metrics = env.execute("side-outputs");

        assertTrue(metrics.numRestarts() >= 1, metrics.toString());
        Map<String, Long> all = SequenceChecker.expectedForSequence(total, keys);
        Map<String, Long> evenKeys = new HashMap<>();
        Map<String, Long> oddKeys = new HashMap<>();
        all.forEach((k, n) -> (Integer.parseInt(k.substring(4)) % 2 == 1 ? oddKeys : evenKeys).put(k, n));
        SequenceChecker.Result mainResult = SequenceChecker.check(even.readAll(), evenKeys);
        SequenceChecker.Result sideResult = SequenceChecker.check(odd.readAll(), oddKeys);
        assertTrue(mainResult.exact(), "main output: " + mainResult);
        assertTrue(sideResult.exact(), "side output: " + sideResult);
        assertEquals(total, mainResult.records() + sideResult.records());
    }
}
