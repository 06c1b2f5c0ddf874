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
import io.onceflow.api.sink.Sink;
import io.onceflow.api.sink.SinkInitContext;
import io.onceflow.api.sink.SinkWriter;
import io.onceflow.testing.InjectedFailure;
import io.onceflow.testing.RunningCount;
import io.onceflow.testing.SequenceSource;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * How a job's tasks start. A sink at the end of a chain starts (its {@code initializeState}: for a transactional sink, committing and
 * aborting what a restored checkpoint holds) while the operators before it restore their state and open, not
 * after them. Here each sink subtask's start waits until the keyed operator before it has opened: one after the
 * other, the job would never start. Sources read nothing until every task has started.
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
}
