package io.onceflow.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.JobExecutionException;
import io.onceflow.api.JobMetrics;
import io.onceflow.api.JobStatus;
import io.onceflow.api.RestartStrategies;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.api.functions.KeyedProcessFunction;
import io.onceflow.api.functions.RuntimeContext;
import io.onceflow.api.serialization.VersionedSerializer;
import io.onceflow.api.sink.Committer;
import io.onceflow.api.sink.CommittingSinkWriter;
import io.onceflow.api.sink.Sink;
import io.onceflow.api.sink.SinkInitContext;
import io.onceflow.api.sink.SinkWriter;
import io.onceflow.api.sink.StatefulSinkWriter;
import io.onceflow.api.sink.SupportsCommitter;
import io.onceflow.api.sink.SupportsWriterState;
import io.onceflow.testing.InjectedFailure;
import io.onceflow.testing.RunningCount;
import io.onceflow.testing.SequenceSource;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * How a job's tasks start. A sink at the end of a chain starts (its {@code initializeState}: for a
 * transactional sink, committing and aborting what a restored checkpoint holds) while the operators before it
 * restore their state and open, not after them. Here each sink subtask's start waits until the keyed operator
 * before it has opened: one after the other, the job would never start. Sources read nothing until every task
 * has started. A sink whose writer may be restored while the restored committables commit has both done at once.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SinkStartTest {

    /** Per subtask: opened when the keyed operator before the sink has opened. */
    static final ConcurrentHashMap<String, CountDownLatch> OPENED = new ConcurrentHashMap<>();
    static final AtomicLong WRITTEN = new AtomicLong();

    private static CountDownLatch opened(String run, int subtask) {
        return OPENED.computeIfAbsent(run + "/" + subtask, k -> new CountDownLatch(1));
    }

    /** The running count, noting when it has opened. */
    static final class NotingCount extends KeyedProcessFunction<String, String, String> {
        private final String run;
        private final RunningCount count = new RunningCount();

        NotingCount(String run) {
            this.run = run;
        }

        @Override
        public void open(RuntimeContext context) throws Exception {
            count.open(context);
            opened(run, context.getIndexOfThisSubtask()).countDown();
        }

        @Override
        public void processElement(String word, Context<String> ctx,
                                   io.onceflow.api.functions.Collector<String> out) throws Exception {
            count.processElement(word, ctx, out);
        }
    }

    /** Its writer is created only once the operator before it in the chain has opened (or fails, if asked to). */
    static final class WaitingSink implements Sink<String> {
        private final String run;
        private final boolean fail;

        WaitingSink(String run, boolean fail) {
            this.run = run;
            this.fail = fail;
        }

        @Override
        public SinkWriter<String> createWriter(SinkInitContext context)
                throws Exception {
            if (!opened(run, context.getIndexOfSubtask()).await(20, TimeUnit.SECONDS)) {
                throw new AssertionError("the operator before the sink did not open while the sink started");
            }
            if (fail) {
                throw new InjectedFailure("the sink cannot reach its external system");
            }
            return element -> WRITTEN.incrementAndGet();
        }
    }

    @Test
    void theOperatorsBeforeASinkOpenWhileItStarts() throws Exception {
        WRITTEN.set(0);
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(2);
        env.fromSource(SequenceSource.bounded(2, 4_000, 20), "sequence").uid("source")
                .keyBy(w -> w)
                .process(new NotingCount("overlap")).uid("count")
                .sinkTo(new WaitingSink("overlap", false)).uid("sink");
        JobMetrics metrics = env.execute("sink-start");
        assertEquals(JobStatus.FINISHED, metrics.status());
        assertEquals(4_000, WRITTEN.get());
    }

    @Test
    void aSinkThatFailsToStartFailsTheJobWithItsOwnError() {
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(1);
        env.setRestartStrategy(RestartStrategies.noRestart());
        env.fromSource(SequenceSource.bounded(1, 100, 5), "sequence").uid("source")
                .keyBy(w -> w)
                .process(new NotingCount("failing")).uid("count")
                .sinkTo(new WaitingSink("failing", true)).uid("sink");
        JobExecutionException e = assertThrows(JobExecutionException.class, () -> env.execute("sink-start-fails"));
        Throwable cause = e;
        while (cause != null && !(cause instanceof InjectedFailure)) {
            cause = cause.getCause();
        }
        assertInstanceOf(InjectedFailure.class, cause, "the sink's own error is the job's cause: " + e);
        assertTrue(cause.getMessage().contains("cannot reach its external system"));
    }

    static final AtomicLong READ = new AtomicLong();
    static final AtomicLong READ_WHEN_SINK_STARTED = new AtomicLong(-1);

    /** A sink whose start takes a while, noting how many records the source had read by its end. */
    static final class SlowStartSink implements Sink<String> {
        @Override
        public SinkWriter<String> createWriter(SinkInitContext context) throws Exception {
            Thread.sleep(300); // what a restore's commits and aborts take
            READ_WHEN_SINK_STARTED.set(READ.get());
            return element -> WRITTEN.incrementAndGet();
        }
    }

    @Test
    void sourcesReadNothingUntilEveryTaskHasStarted() throws Exception {
        READ.set(0);
        WRITTEN.set(0);
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(1);
        env.fromSource(SequenceSource.bounded(1, 2_000, 10), "sequence").uid("source")
                .map(w -> {
                    READ.incrementAndGet();
                    return w;
                }).uid("noted")
                .keyBy(w -> w) // the sink runs in a task of its own
                .process(new NotingCount("held")).uid("count")
                .sinkTo(new SlowStartSink()).uid("sink");
        assertEquals(JobStatus.FINISHED, env.execute("sources-held").status());
        assertEquals(0, READ_WHEN_SINK_STARTED.get(), "what a source reads before the sinks are up only queues in front of them");
        assertEquals(2_000, WRITTEN.get());
    }

    static final List<String> EVENTS = new CopyOnWriteArrayList<>();
    static volatile CountDownLatch restoring;
    static final AtomicBoolean FAILED_ONCE = new AtomicBoolean();

    /**
     * A sink with a committer and writer state that notes how its restore went: its restored commit waits a while
     * for the writer's restore to begin, and the writer's restore waits for the restored commits.
     */
    static final class RestoreNotingSink implements Sink<String>, SupportsCommitter<String>,
            SupportsWriterState<String, String> {
        private final boolean whileCommitting;
        private final boolean failRestoredCommit;

        RestoreNotingSink(boolean whileCommitting, boolean failRestoredCommit) {
            this.whileCommitting = whileCommitting;
            this.failRestoredCommit = failRestoredCommit;
        }

        @Override
        public boolean restoresWhileCommitting() {
            return whileCommitting;
        }

        @Override
        public SinkWriter<String> createWriter(SinkInitContext context) {
            return new Writer();
        }

        @Override
        public StatefulSinkWriter<String, String> restoreWriter(SinkInitContext context,
                Collection<String> recoveredState) throws Exception {
            if (context.getAttemptNumber() > 0) {
                EVENTS.add("writer restore begins");
                restoring.countDown();
                context.awaitRestoredCommits();
                EVENTS.add("writer restore goes on after the commits");
            }
            return new Writer();
        }

        @Override
        public Committer<String> createCommitter(SinkInitContext context) {
            boolean[] first = {true};
            return requests -> {
                if (first[0] && context.getAttemptNumber() > 0) {
                    EVENTS.add("restored commit begins");
                    boolean overlapped = restoring.await(whileCommitting ? 20_000 : 300, TimeUnit.MILLISECONDS);
                    EVENTS.add(overlapped ? "restored commit saw the writer restore" : "restored commit alone");
                    EVENTS.add("restored commit ends");
                    if (failRestoredCommit) {
                        requests.forEach(r -> r.signalFailedWithUnknownReason(
                                new InjectedFailure("the external system refuses the restored commit")));
                        return;
                    }
                }
                first[0] = false;
                WRITTEN.addAndGet(requests.size());
            };
        }

        @Override
        public VersionedSerializer<String> getCommittableSerializer() {
            return new Strings();
        }

        @Override
        public VersionedSerializer<String> getWriterStateSerializer() {
            return new Strings();
        }

        /** One committable per checkpoint, so that every checkpoint holds one to commit after a restore. */
        static final class Writer implements CommittingSinkWriter<String, String>,
                StatefulSinkWriter<String, String> {
            @Override
            public void write(String element) {
            }

            @Override
            public Collection<String> prepareCommit(long checkpointId) {
                return List.of("c" + checkpointId);
            }

            @Override
            public List<String> snapshotState(long checkpointId) {
                return List.of("w" + checkpointId);
            }

            @Override
            public void flush(boolean endOfInput) {
            }

            @Override
            public void close() {
            }
        }
    }

    static final class Strings implements VersionedSerializer<String> {
        @Override
        public int getVersion() {
            return 1;
        }

        @Override
        public byte[] serialize(String value) {
            return value.getBytes(StandardCharsets.UTF_8);
        }

        @Override
        public String deserialize(int version, byte[] serialized) {
            return new String(serialized, StandardCharsets.UTF_8);
        }
    }

    /** Runs the job until its first checkpoint's commit, fails it once, and returns what its restore noted. */
    private static List<String> restoreOnce(boolean whileCommitting) throws Exception {
        StreamEnvironment env = restoringJob(whileCommitting, false);
        assertEquals(JobStatus.FINISHED, env.execute("restore-" + whileCommitting).status());
        assertTrue(FAILED_ONCE.get(), "the job failed once and was restored");
        return List.copyOf(EVENTS);
    }

    /** A job that fails once as soon as a checkpoint was committed, and restores (once) from its latest checkpoint. */
    private static StreamEnvironment restoringJob(boolean whileCommitting, boolean failRestoredCommit) {
        EVENTS.clear();
        WRITTEN.set(0);
        FAILED_ONCE.set(false);
        restoring = new CountDownLatch(1);
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(1);
        env.enableCheckpointing(Duration.ofMillis(100));
        env.getCheckpointConfig().setCheckpointStorage("memory:");
        env.setRestartStrategy(RestartStrategies.fixedDelay(1, Duration.ZERO));
        env.fromSource(SequenceSource.bounded(1, 3_000, 10).throttled(3_000), "sequence").uid("source")
                .map(w -> {
                    if (WRITTEN.get() > 0 && FAILED_ONCE.compareAndSet(false, true)) {
                        throw new InjectedFailure("fail once, after a checkpoint was committed");
                    }
                    return w;
                }).uid("failing")
                .sinkTo(new RestoreNotingSink(whileCommitting, failRestoredCommit)).uid("sink");
        return env;
    }

    @Test
    void aSinkThatAllowsItHasItsWriterRestoredWhileTheRestoredCommittablesCommit() throws Exception {
        List<String> events = restoreOnce(true);
        assertTrue(events.contains("restored commit saw the writer restore"), "both at once: " + events);
        assertTrue(events.indexOf("writer restore goes on after the commits") > events.indexOf("restored commit ends"),
                "the writer's restore waited for the commits where it asked to: " + events);
    }

    @Test
    void otherSinksHaveTheirRestoredCommittablesCommittedBeforeTheWriterIsRestored() throws Exception {
        assertEquals(List.of("restored commit begins", "restored commit alone", "restored commit ends",
                        "writer restore begins", "writer restore goes on after the commits"), restoreOnce(false));
    }

    @Test
    void aRestoredCommitThatFailsFailsTheStartAndTheWriterRestoreGoesNoFurther() {
        StreamEnvironment env = restoringJob(true, true);
        JobExecutionException e = assertThrows(JobExecutionException.class, () -> env.execute("restore-fails"));
        Throwable cause = e;
        while (cause != null && !(cause instanceof InjectedFailure)) {
            cause = cause.getCause();
        }
        assertInstanceOf(InjectedFailure.class, cause, "the commit's own error is the job's cause: " + e);
        assertTrue(cause.getMessage().contains("refuses the restored commit"), cause.getMessage());
        assertTrue(EVENTS.contains("writer restore begins"), String.valueOf(EVENTS));
        assertTrue(!EVENTS.contains("writer restore goes on after the commits"),
                "nothing the writer does after the commits happens when they failed: " + EVENTS);
    }
}
