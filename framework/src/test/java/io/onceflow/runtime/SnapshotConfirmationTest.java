package io.onceflow.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.JobClient;
import io.onceflow.api.JobExecutionException;
import io.onceflow.api.NonRecoverableException;
import io.onceflow.api.RestartStrategies;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.api.functions.CheckpointListener;
import io.onceflow.api.sink.Sink;
import io.onceflow.api.sink.SinkWriter;
import io.onceflow.api.source.InputStatus;
import io.onceflow.api.source.ReaderOutput;
import io.onceflow.api.source.SourceReader;
import io.onceflow.api.source.SourceReaderContext;
import io.onceflow.runtime.AlignmentTest.Split;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.LongFunction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A source reader's snapshot that must be confirmed after its barrier ({@code SourceReader.confirmSnapshot}, which
 * the Kafka reader uses to ask whether its topics are still the ones it read): the task acknowledges the checkpoint
 * only once the confirmation came, declines it when the confirmation fails, and a non-recoverable failure stops the
 * job at once.
 */
class SnapshotConfirmationTest {

    /** The confirmation of each checkpoint the reader was asked for, as {@link #policy} made it. */
    static final Map<Long, CompletableFuture<Void>> ASKED = new ConcurrentHashMap<>();
    static volatile LongFunction<CompletableFuture<Void>> policy = id -> CompletableFuture.completedFuture(null);
    /** Checkpoints the sink was told had completed. */
    static final Set<Long> COMPLETED = ConcurrentHashMap.newKeySet();

    @AfterEach
    void reset() {
        ASKED.values().forEach(f -> f.complete(null));
        ASKED.clear();
        COMPLETED.clear();
        policy = id -> CompletableFuture.completedFuture(null);
    }

    private static JobClient run(String name, int tolerableFailures) throws Exception {
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(1);
        env.enableCheckpointing(Duration.ofMillis(30));
        env.getCheckpointConfig().setCheckpointStorage("memory:");
        env.getCheckpointConfig().setTolerableCheckpointFailureNumber(tolerableFailures);
        env.setRestartStrategy(RestartStrategies.fixedDelay(3, Duration.ZERO));
        env.fromSource(new ConfirmingSource(), "confirming").uid("source").sinkTo(new NotifiedSink()).uid("sink");
        return env.executeAsync(name);
    }

    @Test
    void aCheckpointIsAcknowledgedOnlyOnceItsSourceConfirmedItsSnapshot() throws Exception {
        CompletableFuture<Void> held = new CompletableFuture<>();
        policy = id -> id == 1 ? held : CompletableFuture.completedFuture(null);
        try (JobClient job = run("held", 0)) {
            await(() -> ASKED.containsKey(1L), "checkpoint 1's confirmation asked for");
            Thread.sleep(300); // ten intervals
            assertEquals(0, job.getMetrics().numberOfCompletedCheckpoints(), "checkpoint 1 waits for its confirmation");
            assertTrue(COMPLETED.isEmpty(), "the sink was told of no completed checkpoint: " + COMPLETED);
            held.complete(null);
            await(() -> job.getMetrics().lastCompletedCheckpointId() >= 3, "checkpoints 1 to 3 completed");
            assertTrue(COMPLETED.contains(1L), "checkpoint 1 completed once confirmed: " + COMPLETED);
            assertEquals(0, job.getMetrics().numberOfFailedCheckpoints());
        }
    }

    @Test
    void aSnapshotThatIsNotConfirmedDeclinesItsCheckpointAndTheJobGoesOn() throws Exception {
        policy = id -> id == 2 ? CompletableFuture.failedFuture(new IllegalStateException("not confirmed"))
                : CompletableFuture.completedFuture(null);
        try (JobClient job = run("declined", 3)) {
            await(() -> job.getMetrics().lastCompletedCheckpointId() >= 4, "checkpoints after 2 completed");
            assertFalse(COMPLETED.contains(2L), "checkpoint 2 never completed: " + COMPLETED);
            assertTrue(COMPLETED.contains(1L) && COMPLETED.contains(3L), COMPLETED.toString());
            assertEquals(1, job.getMetrics().numberOfFailedCheckpoints());
            assertEquals(0, job.getMetrics().numRestarts());
        }
    }

    @Test
    void aNonRecoverableFailureOfTheConfirmationStopsTheJobWithoutARestart() throws Exception {
        policy = id -> id == 2
                ? CompletableFuture.failedFuture(new NonRecoverableException("the input is not what checkpoint 2 read"))
                : CompletableFuture.completedFuture(null);
        // no checkpoint failure is tolerated: without the confirmation's own failure the job would restart
        try (JobClient job = run("stopped", 0)) {
            JobExecutionException e = assertThrows(JobExecutionException.class,
                    () -> job.awaitTermination(Duration.ofSeconds(30)));
            assertTrue(e.getMessage().contains("the input is not what checkpoint 2 read"), e.getMessage());
            assertEquals(0, job.getMetrics().numRestarts(), "a restart cannot help");
            assertFalse(COMPLETED.contains(2L), COMPLETED.toString());
            assertTrue(COMPLETED.contains(1L), COMPLETED.toString());
        }
    }

    private static void await(java.util.function.BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Thread.sleep(5);
        }
    }

    /** One split emitting a record per poll (every millisecond); its snapshots confirmed as {@link #policy} says. */
    static final class ConfirmingSource extends AlignmentTest.OneSplitSource {
        @Override
        public SourceReader<String, Split> createReader(SourceReaderContext context) {
            return new AlignmentTest.OneSplitReader() {
                private long emitted;

                @Override
                public InputStatus pollNext(ReaderOutput<String> output) throws Exception {
                    Thread.sleep(1);
                    output.collect("r-" + emitted++);
                    return InputStatus.MORE_AVAILABLE;
                }

                @Override
                public CompletableFuture<Void> confirmSnapshot(long checkpointId) {
                    return ASKED.computeIfAbsent(checkpointId, policy::apply);
                }
            };
        }
    }

    /** Records which checkpoints it was told had completed. */
    static final class NotifiedSink implements Sink<String> {
        @Override
        public SinkWriter<String> createWriter(io.onceflow.api.sink.SinkInitContext context) {
            return new Writer();
        }

        static final class Writer implements SinkWriter<String>, CheckpointListener {
            @Override
            public void write(String element) {
            }

            @Override
            public void notifyCheckpointComplete(long checkpointId) {
                COMPLETED.add(checkpointId);
            }
        }
    }
}
