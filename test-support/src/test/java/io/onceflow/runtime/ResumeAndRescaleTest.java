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
import io.onceflow.runtime.storage.FileSystemCheckpointStorage;
import io.onceflow.testing.CommittedStore;
import io.onceflow.testing.FailingCheckpointStorage;
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
        return env(parallelism, new TransactionalTestSink(store));
    }

    private StreamEnvironment env(int parallelism, TransactionalTestSink sink) {
        return env(parallelism, sink, null);
    }

    /** @param backend the state backend, or null for the default (the heap) */
    private StreamEnvironment env(int parallelism, TransactionalTestSink sink, io.onceflow.api.StateBackend backend) {
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(parallelism);
        if (backend != null) {
            env.setStateBackend(backend);
        }
        env.enableCheckpointing(Duration.ofMillis(50));
        env.getCheckpointConfig().setCheckpointStorage(dir.resolve("checkpoints").toUri().toString());
        env.setRestartStrategy(RestartStrategies.noRestart());
        env.fromSource(SequenceSource.bounded(4, TOTAL, KEYS).throttled(2_000), "sequence").uid("source")
                .keyBy(w -> w)
                .process(new RunningCount()).uid("count")
                .sinkTo(sink).uid("sink");
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

    /** Runs the job until {@code checkpoints} checkpoints completed, then cancels it; its final status. */
    private static JobStatus cancelAfterCheckpoints(StreamEnvironment env, String name, int checkpoints) throws Exception {
        JobClient job = env.executeAsync(name);
        await(() -> job.getMetrics().numberOfCompletedCheckpoints() >= checkpoints, checkpoints + " checkpoints completed");
        job.cancel();
        return job.awaitTermination(Duration.ofSeconds(30));
    }

    /**
     * A stop asked for while the job's input has just ended and its own final checkpoint is completing: the
     * stop's checkpoint cannot happen (the job is ending), but the final one covers everything, so the stop
     * succeeds with it instead of failing.
     */
    @Test
    void aStopThatRacesTheEndOfABoundedInputSucceedsWithTheFinalCheckpoint() throws Exception {
        CommittedStore store = CommittedStore.inMemory();
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(2);
        env.enableCheckpointing(Duration.ofHours(1)); // only the final checkpoint
        env.getCheckpointConfig().setCheckpointStorage(dir.resolve("checkpoints").toUri().toString());
        env.fromSource(SequenceSource.bounded(2, 2_000, 20), "sequence").uid("source")
                .keyBy(w -> w)
                .process(new RunningCount()).uid("count")
                .sinkTo(new TransactionalTestSink(store)).uid("sink");
        java.util.concurrent.CountDownLatch finalCompleted = new java.util.concurrent.CountDownLatch(1);
        env.setFaultInjector((point, uid, subtask, checkpointId) -> {
            if (point == io.onceflow.runtime.fault.FaultPoint.AFTER_CHECKPOINT_COMPLETE_BEFORE_NOTIFY) {
                finalCompleted.countDown();
                Thread.sleep(300); // the stop comes in now
            }
        });
        JobClient job = env.executeAsync("stop-at-the-end");
        assertTrue(finalCompleted.await(60, TimeUnit.SECONDS), "the final checkpoint completed");
        long stoppedAt = job.stop(Duration.ofSeconds(30));
        assertEquals(1, stoppedAt, "stopped with the final checkpoint");
        SequenceChecker.Result result = SequenceChecker.check(store.readAll(), SequenceChecker.expectedForSequence(2_000, 20));
        assertTrue(result.exact(), result.toString());
    }

    @Test
    void aNewRunResumesFromTheLatestCheckpointAtAnotherParallelism() throws Exception {
        CommittedStore store = CommittedStore.inDirectory(dir.resolve("out"));
        assertEquals(JobStatus.CANCELED, cancelAfterCheckpoints(env(2, store), "resume", 3));
        long committedBefore = store.readAll().size();
        assertTrue(committedBefore > 0 && committedBefore < TOTAL, "the first run stopped midway: " + committedBefore);
        assertTrue(Files.exists(dir.resolve("checkpoints/resume")), "checkpoints are retained on cancel by default");

        JobMetrics second = env(3, store).execute("resume");
        assertEquals(JobStatus.FINISHED, second.status());
        assertTrue(second.numRecordsIn() < TOTAL, "the second run read only what the first had not: " + second.numRecordsIn());

        SequenceChecker.Result result = SequenceChecker.check(store.readAll(), SequenceChecker.expectedForSequence(TOTAL, KEYS));
        assertTrue(result.exact(), "after resuming at parallelism 3: " + result);
    }

    /**
     * RocksDB with incremental checkpoints, 2 -> 3 -> 2: the second run's subtasks each start from an old
     * subtask's files with the other key groups' rows deleted, checkpoint those databases, and the third run
     * rescales from them again.
     */
    @Test
    void rocksDbResumesAtAnotherParallelismAndBackAgain() throws Exception {
        CommittedStore store = CommittedStore.inDirectory(dir.resolve("out"));
        io.onceflow.api.RocksDBStateBackend rocks = io.onceflow.api.RocksDBStateBackend.create()
                .withLocalDirectory(dir.resolve("rocksdb"));
        long committed = 0;
        for (int parallelism : new int[] {2, 3}) {
            assertEquals(JobStatus.CANCELED, cancelAfterCheckpoints(env(parallelism, new TransactionalTestSink(store),
                    rocks), "rocks", 3));
            long now = store.readAll().size();
            assertTrue(now > committed && now < TOTAL,
                    "the run at parallelism " + parallelism + " stopped midway: " + now);
            committed = now;
        }
        JobMetrics last = env(2, new TransactionalTestSink(store), rocks).execute("rocks");
        assertEquals(JobStatus.FINISHED, last.status());
        SequenceChecker.Result result = SequenceChecker.check(store.readAll(),
                SequenceChecker.expectedForSequence(TOTAL, KEYS));
        assertTrue(result.exact(), "after parallelism 2, 3 and 2 again on RocksDB: " + result);
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
    void stopReturnsOnlyAfterTheSinksCommittedEverythingReadSoFar() throws Exception {
        CommittedStore store = CommittedStore.inDirectory(dir.resolve("out"));
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(2);
        env.enableCheckpointing(Duration.ofSeconds(30)); // never periodic within this test: only the stop's checkpoint
        env.getCheckpointConfig().setCheckpointStorage(dir.resolve("checkpoints").toUri().toString());
        env.fromSource(SequenceSource.idleAfter(4, TOTAL, KEYS), "sequence").uid("source")
                .keyBy(w -> w)
                .process(new RunningCount()).uid("count")
                .sinkTo(new TransactionalTestSink(store)).uid("sink");
        JobClient job = env.executeAsync("stop-commits");
        await(() -> job.getMetrics().numRecordsIn() >= TOTAL, "all input read");
        assertEquals(0, store.readAll().size(), "nothing committed before the first checkpoint");
        long id = job.stop(Duration.ofSeconds(30));
        assertEquals(1, id, "the stop took the first checkpoint");
        assertEquals(JobStatus.CANCELED, job.getStatus());
        SequenceChecker.Result result = SequenceChecker.check(store.readAll(), SequenceChecker.expectedForSequence(TOTAL, KEYS));
        assertTrue(result.exact() && result.records() == TOTAL, "everything read is committed when stop returns: " + result);
    }

    @Test
    void aStopWhoseCheckpointFailsTakesAnother() throws Exception {
        CommittedStore store = CommittedStore.inDirectory(dir.resolve("out"));
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(2);
        env.enableCheckpointing(Duration.ofSeconds(30)); // only the stop's checkpoints
        env.getCheckpointConfig().setTolerableCheckpointFailureNumber(5);
        // the first stop checkpoint cannot write its state, the second not its metadata
        env.getCheckpointConfig().setCheckpointStorage(FailingCheckpointStorage
                .wrap(new FileSystemCheckpointStorage(dir.resolve("checkpoints")))
                .failStateOf(id -> id == 1).failMetadataOf(id -> id == 2));
        env.fromSource(SequenceSource.idleAfter(4, TOTAL, KEYS), "sequence").uid("source")
                .keyBy(w -> w)
                .process(new RunningCount()).uid("count")
                .sinkTo(new TransactionalTestSink(store)).uid("sink");
        JobClient job = env.executeAsync("stop-retries");
        await(() -> job.getMetrics().numRecordsIn() >= TOTAL, "all input read");
        long id = job.stop(Duration.ofSeconds(30));
        assertEquals(3, id, "the third stop checkpoint is the first that could complete");
        assertEquals(JobStatus.CANCELED, job.getStatus());
        assertEquals(2, job.getMetrics().numberOfFailedCheckpoints());
        SequenceChecker.Result result = SequenceChecker.check(store.readAll(), SequenceChecker.expectedForSequence(TOTAL, KEYS));
        assertTrue(result.exact() && result.records() == TOTAL, "everything read is committed: " + result);
    }

    @Test
    void aStopThatCannotCheckpointIsGivenUpAndTheJobReadsOn() throws Exception {
        CommittedStore store = CommittedStore.inDirectory(dir.resolve("out"));
        java.util.concurrent.atomic.AtomicBoolean storageBroken = new java.util.concurrent.atomic.AtomicBoolean(true);
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(2);
        env.enableCheckpointing(Duration.ofMillis(100));
        env.getCheckpointConfig().setTolerableCheckpointFailureNumber(1_000);
        env.getCheckpointConfig().setCheckpointStorage(FailingCheckpointStorage
                .wrap(new FileSystemCheckpointStorage(dir.resolve("checkpoints")))
                .failStateOf(id -> storageBroken.get()).failMetadataOf(id -> storageBroken.get()));
        env.setRestartStrategy(RestartStrategies.noRestart());
        // 6 s of input: it must outlast the stop (1 s, plus its retries) for the test to see reading go on
        env.fromSource(SequenceSource.bounded(4, TOTAL, KEYS).throttled(1_000), "sequence").uid("source")
                .keyBy(w -> w)
                .process(new RunningCount()).uid("count")
                .sinkTo(new TransactionalTestSink(store)).uid("sink");
        JobClient job = env.executeAsync("stop-given-up");
        await(() -> job.getMetrics().numRecordsIn() > 0, "the job reads");
        Exception e = org.junit.jupiter.api.Assertions.assertThrows(Exception.class,
                () -> job.stop(Duration.ofSeconds(1)));
        assertTrue(e.getMessage().contains("the job reads on"), e.getMessage());
        assertEquals(JobStatus.RUNNING, job.getStatus());
        long readAtStop = job.getMetrics().numRecordsIn();
        await(() -> job.getMetrics().numRecordsIn() > readAtStop, "the sources read on after the stop was given up");
        storageBroken.set(false);
        assertEquals(JobStatus.FINISHED, job.awaitTermination(Duration.ofSeconds(60)),
                "periodic checkpoints resumed, so the bounded job could finish");
        SequenceChecker.Result result = SequenceChecker.check(store.readAll(), SequenceChecker.expectedForSequence(TOTAL, KEYS));
        assertTrue(result.exact() && result.records() == TOTAL, "exact after the stop was given up: " + result);
    }

    @Test
    void retainedCheckpointsSurviveAResume() throws Exception {
        CommittedStore store = CommittedStore.inDirectory(dir.resolve("out"));
        StreamEnvironment env = env(2, store);
        env.getCheckpointConfig().setNumRetainedCheckpoints(3);
        cancelAfterCheckpoints(env, "retained", 5);
        java.util.List<String> before = completedCheckpoints("retained");
        assertEquals(3, before.size(), "3 retained: " + before);

        StreamEnvironment again = env(2, store);
        again.getCheckpointConfig().setNumRetainedCheckpoints(3);
        JobClient second = again.executeAsync("retained");
        try {
            java.util.List<String> after = completedCheckpoints("retained");
            assertTrue(after.containsAll(before), "the resume kept every retained checkpoint: " + before + " -> " + after);
        } finally {
            second.cancel();
            second.awaitTermination(Duration.ofSeconds(30));
        }
    }

    private java.util.List<String> completedCheckpoints(String job) throws Exception {
        try (var s = Files.list(dir.resolve("checkpoints").resolve(job))) {
            return s.filter(p -> Files.exists(p.resolve("_metadata"))).map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void startingFreshIgnoresOldCheckpoints() throws Exception {
        CommittedStore oldStore = CommittedStore.inDirectory(dir.resolve("old"));
        cancelAfterCheckpoints(env(2, oldStore), "fresh", 2);

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

    /** Refuses the job after a while; counts the writers and committers made of it, which must be none. */
    static final class RefusingSink extends TransactionalTestSink implements io.onceflow.api.ValidatesConfiguration {
        static final java.util.concurrent.atomic.AtomicInteger STARTED = new java.util.concurrent.atomic.AtomicInteger();

        RefusingSink(CommittedStore store) {
            super(store);
        }

        @Override
        public void validate(Context context) throws InterruptedException {
            Thread.sleep(300); // the job's thread reads the restored state meanwhile
            throw new IllegalArgumentException("sink '" + context.operatorUid() + "' refuses this job");
        }

        @Override
        public io.onceflow.api.sink.SinkWriter<String> createWriter(io.onceflow.api.sink.SinkInitContext context) {
            STARTED.incrementAndGet();
            return super.createWriter(context);
        }

        @Override
        public io.onceflow.api.sink.Committer<Transaction> createCommitter(io.onceflow.api.sink.SinkInitContext context) {
            STARTED.incrementAndGet();
            return super.createCommitter(context);
        }
    }

    /**
     * The sinks' checks run while the job reads the checkpoint it resumes from; one that fails still fails the start
     * before anything ran: no sink started (the restored transactions stay uncommitted until a start that passes),
     * the checkpoints stay even where a cancellation deletes them, and the directory's lock is free for the next run.
     */
    @Test
    void aCheckThatFailsWhileTheStateIsReadStartsNothingAndKeepsTheCheckpoints() throws Exception {
        CommittedStore store = CommittedStore.inDirectory(dir.resolve("out"));
        assertEquals(JobStatus.CANCELED, cancelAfterCheckpoints(env(2, store), "checked", 2));
        long committed = store.readAll().size();

        StreamEnvironment refused = env(2, new RefusingSink(store));
        refused.getCheckpointConfig().setCheckpointRetention(CheckpointRetention.DELETE_ON_CANCELLATION);
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> refused.executeAsync("checked"));
        assertEquals("sink 'sink' refuses this job", e.getMessage());
        assertEquals(0, RefusingSink.STARTED.get(), "no writer or committer was made");
        assertEquals(committed, store.readAll().size(), "nothing more was committed");
        assertTrue(Files.exists(dir.resolve("checkpoints/checked")), "the checkpoints are kept");

        JobMetrics third = env(2, store).execute("checked");
        assertEquals(JobStatus.FINISHED, third.status());
        assertTrue(third.numRecordsIn() < TOTAL, "the next run resumed: " + third.numRecordsIn());
        SequenceChecker.Result result = SequenceChecker.check(store.readAll(), SequenceChecker.expectedForSequence(TOTAL, KEYS));
        assertTrue(result.exact(), "after a refused start and a resumed one: " + result);
    }
}
