package io.onceflow.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.CheckpointingMode;
import io.onceflow.api.JobMetrics;
import io.onceflow.api.JobStatus;
import io.onceflow.api.RestartStrategies;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.api.functions.Collector;
import io.onceflow.api.functions.FlatMapFunction;
import io.onceflow.testing.CommittedStore;
import io.onceflow.runtime.fault.FaultInjector;
import io.onceflow.runtime.fault.FaultPoint;
import io.onceflow.testing.InjectedFailure;
import io.onceflow.testing.RunningCount;
import io.onceflow.testing.SequenceChecker;
import io.onceflow.testing.SequenceSource;
import io.onceflow.testing.TransactionalTestSink;
import java.time.Duration;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A keyed running count over a replayable source, with failures injected at random points and at every
 * dangerous moment of a checkpoint; the output committed by a transactional sink must hold every key's
 * counts exactly once (EXACTLY_ONCE) or at least once (AT_LEAST_ONCE).
 */
class ExactlyOnceRecoveryTest {

    private static final int KEYS = 300;
    private static final long TOTAL = 30_000;

    @ParameterizedTest(name = "parallelism {0}, seed {1}")
    @CsvSource({"2, 1", "3, 2", "4, 3"})
    void exactlyOnceSurvivesInjectedFailures(int parallelism, long seed) throws Exception {
        CommittedStore store = CommittedStore.inMemory();
        RandomFaults faults = new RandomFaults(seed, 6);
        JobMetrics metrics = runCountJob(parallelism, CheckpointingMode.EXACTLY_ONCE, store, faults, seed);

        SequenceChecker.Result result = SequenceChecker.check(store.readAll(), SequenceChecker.expectedForSequence(TOTAL, KEYS));
        assertTrue(result.exact(), "committed output is not exact: " + result);
        assertEquals(TOTAL, result.records());
        assertEquals(JobStatus.FINISHED, metrics.status());
        // two failures can hit one attempt at once (one restart), so restarts are at most the failures
        assertTrue(metrics.numRestarts() >= 3, "too few restarts to test anything: " + metrics.numRestarts());
        assertTrue(metrics.numRestarts() <= faults.injected.get(), "restarts without a failure: " + metrics);
        // faults come only once a checkpoint completed, so every restart restored one
        assertTrue(metrics.lastRestoreDurationMillis() >= 0, "a restore was timed: " + metrics);
    }

    @ParameterizedTest(name = "parallelism {0}, seed {1}")
    @CsvSource({"2, 11", "4, 12"})
    void atLeastOnceLosesNothing(int parallelism, long seed) throws Exception {
        CommittedStore store = CommittedStore.inMemory();
        RandomFaults faults = new RandomFaults(seed, 4);
        JobMetrics metrics = runCountJob(parallelism, CheckpointingMode.AT_LEAST_ONCE, store, faults, seed);

        SequenceChecker.Result result = SequenceChecker.check(store.readAll(), SequenceChecker.expectedForSequence(TOTAL, KEYS));
        // replayed inputs may raise a key's count beyond its number of inputs; none may be missing
        assertEquals(0, result.lost(), "at-least-once lost records: " + result);
        assertTrue(result.records() >= TOTAL, "fewer records than inputs: " + result);
        assertTrue(metrics.numRestarts() >= 2, "too few restarts to test anything: " + metrics.numRestarts());
    }

    private JobMetrics runCountJob(int parallelism, CheckpointingMode mode, CommittedStore store, RandomFaults faults,
                                   long seed) throws Exception {
        String job = "count-" + mode + "-" + parallelism + "-" + seed;
        FAULTS.put(job, faults);
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(parallelism);
        env.enableCheckpointing(Duration.ofMillis(40), mode);
        env.getCheckpointConfig().setCheckpointStorage("memory:"); // repeats output only after a process restart
        env.setRestartStrategy(RestartStrategies.fixedDelay(100, Duration.ZERO));
        env.setFaultInjector(faults);
        env.setChannelBuffers(16, 4);
        env.fromSource(SequenceSource.bounded(4, TOTAL, KEYS).throttled(5_000), "sequence").uid("source")
                .flatMap(new FailingIdentity(job, seed)).uid("identity")
                .keyBy(w -> w)
                .process(new RunningCount()).uid("count")
                .sinkTo(new TransactionalTestSink(store)).uid("sink");
        return env.execute(job);
    }

    /** Fails at a random fault point now and then, up to a limit, once a checkpoint has completed. */
    static final class RandomFaults implements FaultInjector {
        final Random random;
        final int max;
        final AtomicInteger injected = new AtomicInteger();
        final AtomicLong completed = new AtomicLong();

        RandomFaults(long seed, int max) {
            this.random = new Random(seed);
            this.max = max;
        }

        @Override
        public void at(FaultPoint point, String operatorUid, int subtask, long checkpointId) {
            if (point == FaultPoint.AFTER_CHECKPOINT_COMPLETE_BEFORE_NOTIFY) {
                completed.incrementAndGet();
            }
            double p;
            synchronized (random) {
                p = random.nextDouble();
            }
            if (p < 0.03 && completed.get() > 0) {
                maybeFail(point + " of " + operatorUid + "/" + subtask + " at checkpoint " + checkpointId);
            }
        }

        void maybeFail(String where) {
            if (injected.incrementAndGet() <= max) {
                throw new InjectedFailure("injected failure " + injected.get() + " " + where);
            }
            injected.decrementAndGet();
        }
    }

    /** The injectors of running jobs, by job; functions are copied per subtask, so they look theirs up here. */
    static final Map<String, RandomFaults> FAULTS = new ConcurrentHashMap<>();

    /** Passes words through and throws at random records, from the job's failure budget. */
    static final class FailingIdentity implements FlatMapFunction<String, String> {
        private final String job;
        private final long seed;
        private transient Random random;

        FailingIdentity(String job, long seed) {
            this.job = job;
            this.seed = seed;
        }

        @Override
        public void flatMap(String value, Collector<String> out) {
            if (random == null) {
                random = new Random(seed * 31 + System.identityHashCode(this));
            }
            RandomFaults faults = FAULTS.get(job);
            if (random.nextInt(20_000) == 0 && faults.completed.get() > 0) {
                faults.maybeFail("while processing " + value);
            }
            out.collect(value);
        }
    }
}
