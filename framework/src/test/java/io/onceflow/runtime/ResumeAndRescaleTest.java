package io.onceflow.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.CheckpointRetention;
import io.onceflow.api.JobClient;
import io.onceflow.api.JobMetrics;
import io.onceflow.api.JobStatus;
import io.onceflow.api.RestartStrategies;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.testing.CommittedStore;
import io.onceflow.testing.RunningCount;
import io.onceflow.testing.SequenceChecker;
import io.onceflow.testing.SequenceSource;
import io.onceflow.testing.TransactionalTestSink;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A job started again with the same name and checkpoint directory resumes from its latest completed
 * checkpoint, as a restarted process would; also at another parallelism.
 */
class ResumeAndRescaleTest {

    private static final long TOTAL = 24_000;
    private static final int KEYS = 200;

    @TempDir
    Path dir;

    private StreamEnvironment env(int parallelism, CommittedStore store) {
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(parallelism);
        env.enableCheckpointing(Duration.ofMillis(50));
        env.getCheckpointConfig().setCheckpointStorage(dir.resolve("checkpoints").toUri().toString());
        env.setRestartStrategy(RestartStrategies.noRestart());
        env.fromSource(SequenceSource.bounded(4, TOTAL, KEYS).throttled(2_000), "sequence").uid("source")
                .keyBy(w -> w)
                .process(new RunningCount()).uid("count")
                .sinkTo(new TransactionalTestSink(store)).uid("sink");
        return env;
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Thread.sleep(10);
        }
    }

    @Test
    void aNewRunResumesFromTheLatestCheckpointAtAnotherParallelism() throws Exception {
        CommittedStore store = CommittedStore.inDirectory(dir.resolve("out"));
        JobClient first = env(2, store).executeAsync("resume");
        await(() -> first.getMetrics().numberOfCompletedCheckpoints() >= 3, "3 checkpoints completed");
        first.cancel();
        assertEquals(JobStatus.CANCELED, first.awaitTermination(Duration.ofSeconds(30)));
        long committedBefore = store.readAll().size();
        assertTrue(committedBefore > 0 && committedBefore < TOTAL, "the first run stopped midway: " + committedBefore);
        assertTrue(Files.exists(dir.resolve("checkpoints/resume")), "checkpoints are retained on cancel by default");

        JobMetrics second = env(3, store).execute("resume");
        assertEquals(JobStatus.FINISHED, second.status());
        assertTrue(second.numRecordsIn() < TOTAL, "the second run read only what the first had not: " + second.numRecordsIn());

        SequenceChecker.Result result = SequenceChecker.check(store.readAll(), SequenceChecker.expectedForSequence(TOTAL, KEYS));
        assertTrue(result.exact(), "after resuming at parallelism 3: " + result);
    }

    @Test
    void stopTakesACheckpointAndTheNextRunContinuesFromIt() throws Exception {
        CommittedStore store = CommittedStore.inDirectory(dir.resolve("out"));
        JobClient first = env(2, store).executeAsync("stop");
        await(() -> first.getMetrics().numberOfCompletedCheckpoints() >= 2, "2 checkpoints completed");
        long stoppedAt = first.stop(Duration.ofSeconds(30));
        assertTrue(stoppedAt > 0);
        assertEquals(JobStatus.CANCELED, first.getStatus());

        JobMetrics second = env(2, store).execute("stop");
        assertEquals(JobStatus.FINISHED, second.status());
        SequenceChecker.Result result = SequenceChecker.check(store.readAll(), SequenceChecker.expectedForSequence(TOTAL, KEYS));
        assertTrue(result.exact(), "after stop and start: " + result);
    }

    @Test
    void startingFreshIgnoresOldCheckpoints() throws Exception {
        CommittedStore oldStore = CommittedStore.inDirectory(dir.resolve("old"));
        JobClient first = env(2, oldStore).executeAsync("fresh");
        await(() -> first.getMetrics().numberOfCompletedCheckpoints() >= 2, "2 checkpoints completed");
        first.cancel();
        first.awaitTermination(Duration.ofSeconds(30));

        CommittedStore newStore = CommittedStore.inDirectory(dir.resolve("new"));
        StreamEnvironment env = env(2, newStore);
        env.getCheckpointConfig().setResumeFromLatestCheckpoint(false);
        JobMetrics second = env.execute("fresh");
        assertEquals(TOTAL, second.numRecordsIn(), "a fresh start reads everything again");
        assertTrue(SequenceChecker.check(newStore.readAll(), SequenceChecker.expectedForSequence(TOTAL, KEYS)).exact(),
                "a fresh start counts from 1 again");
    }

    @Test
    void deleteOnCancellationRemovesTheCheckpoints() throws Exception {
        StreamEnvironment env = env(2, CommittedStore.inMemory());
        env.getCheckpointConfig().setCheckpointRetention(CheckpointRetention.DELETE_ON_CANCELLATION);
        JobClient job = env.executeAsync("delete");
        await(() -> job.getMetrics().numberOfCompletedCheckpoints() >= 2, "2 checkpoints completed");
        assertTrue(Files.exists(dir.resolve("checkpoints/delete")));
        job.cancel();
        job.awaitTermination(Duration.ofSeconds(30));
        assertFalse(Files.exists(dir.resolve("checkpoints/delete")), "checkpoints deleted on cancel");
    }
}
