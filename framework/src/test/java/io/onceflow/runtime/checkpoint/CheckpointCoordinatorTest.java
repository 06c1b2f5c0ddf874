package io.onceflow.runtime.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.CheckpointConfig;
import io.onceflow.runtime.Clock;
import io.onceflow.runtime.state.KeyGroupRange;
import io.onceflow.runtime.storage.CheckpointMetadata;
import io.onceflow.runtime.storage.FileSystemCheckpointStorage;
import io.onceflow.runtime.storage.JobCheckpointStore;
import io.onceflow.runtime.storage.MemoryCheckpointStorage;
import io.onceflow.runtime.storage.StateHandle;
import io.onceflow.runtime.fault.FaultInjector;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The coordinator against a fake job of two tasks whose acknowledgements the test controls: each
 * checkpoint option is observed in what the coordinator triggers, completes, aborts and fails.
 */
class CheckpointCoordinatorTest {

    private final ScheduledExecutorService acker = Executors.newSingleThreadScheduledExecutor();
    private CheckpointCoordinator coordinator;

    @AfterEach
    void tearDown() {
        if (coordinator != null) {
            coordinator.shutdown();
        }
        acker.shutdownNow();
    }

    /** A job of two tasks; acknowledges each trigger after {@code ackDelayMillis}, or never when negative. */
    final class FakeJob implements CheckpointCoordinator.AttemptContext {
        /** Each trigger: its id, {@link System#nanoTime()} as the job heard of it, and the checkpoint's timestamp. */
        final List<long[]> triggers = new CopyOnWriteArrayList<>();
        final List<long[]> completions = new CopyOnWriteArrayList<>();
        final List<Long> aborted = new CopyOnWriteArrayList<>();
        final List<Throwable> failures = new CopyOnWriteArrayList<>();
        volatile long ackDelayMillis;
        volatile boolean decline;
        /** Declines exactly the checkpoints it matches: a script, so no test races the trigger timer. */
        volatile java.util.function.LongPredicate declineIf = id -> false;
        volatile boolean readInput;

        FakeJob(long ackDelayMillis) {
            this.ackDelayMillis = ackDelayMillis;
        }

        @Override
        public int numberOfTasks() {
            return 2;
        }

        @Override
        public void triggerSources(long id, long timestamp, boolean stop) {
            triggers.add(new long[] {id, System.nanoTime(), timestamp});
            long delay = ackDelayMillis;
            if (decline || declineIf.test(id)) {
                acker.execute(() -> coordinator.decline(0, id, new RuntimeException("declined on purpose")));
            } else if (delay >= 0) {
                acker.schedule(() -> {
                    for (int task = 0; task < 2; task++) {
                        coordinator.acknowledge(task, id, Map.of("op", new CheckpointMetadata.SubtaskState(task,
                                KeyGroupRange.EMPTY, new StateHandle.Inline(new byte[] {1}))), 0, 0);
                    }
                }, delay, TimeUnit.MILLISECONDS);
            }
        }

        @Override
        public void resumeSources() {
        }

        @Override
        public void notifyComplete(long id) {
            completions.add(new long[] {id, System.nanoTime()});
        }

        @Override
        public void notifyAborted(long id) {
            aborted.add(id);
        }

        @Override
        public void failJob(Throwable cause) {
            failures.add(cause);
        }

        @Override
        public Map<String, int[]> operators() {
            return Map.of("op", new int[] {2, 128});
        }

        @Override
        public boolean hasReadInput() {
            return readInput;
        }
    }

    private FakeJob start(CheckpointConfig config, JobCheckpointStore store, long ackDelay) {
        return start(config, store, new FakeJob(ackDelay));
    }

    private FakeJob start(CheckpointConfig config, JobCheckpointStore store, FakeJob job) {
        return start(config, store, job, Clock.SYSTEM);
    }

    private FakeJob start(CheckpointConfig config, JobCheckpointStore store, FakeJob job, Clock clock) {
        coordinator = new CheckpointCoordinator("job", config, store, clock, FaultInjector.NONE, null, List.of(), 0, io.onceflow.runtime.storage.Ownership.NONE);
        coordinator.startAttempt(job);
        return job;
    }

    interface Hook {
        void run(Object[] args) throws Exception;
    }

    /** {@code store}, with {@code before} and {@code after} run around each call of its method {@code name}. */
    private static JobCheckpointStore around(JobCheckpointStore store, String name, Hook before, Hook after) {
        return (JobCheckpointStore) Proxy.newProxyInstance(CheckpointCoordinatorTest.class.getClassLoader(),
                new Class<?>[] {JobCheckpointStore.class}, (proxy, method, args) -> {
                    boolean hooked = method.getName().equals(name);
                    if (hooked) {
                        before.run(args);
                    }
                    Object result;
                    try {
                        result = method.invoke(store, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                    if (hooked) {
                        after.run(args);
                    }
                    return result;
                });
    }

    private static CheckpointConfig config(long intervalMillis) {
        CheckpointConfig c = new CheckpointConfig();
        c.setCheckpointInterval(Duration.ofMillis(intervalMillis));
        return c;
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Thread.sleep(5);
        }
    }

    @Test
    void afterARestoreTheFirstCheckpointComesWithTheFirstInputThenTheIntervalRules() throws Exception {
        FakeJob fresh = start(config(60_000), new MemoryCheckpointStorage().forJob("job"), 0);
        fresh.readInput = true;
        Thread.sleep(300);
        assertEquals(0, fresh.triggers.size(), "a fresh start waits for the interval");
        assertEquals(1L, coordinator.triggerNow().get(10, TimeUnit.SECONDS));

        // the next attempt restores checkpoint 1: it checkpoints as soon as its sources read something
        coordinator.stopAttempt();
        FakeJob restarted = new FakeJob(0);
        coordinator.startAttempt(restarted);
        Thread.sleep(200);
        assertEquals(0, restarted.triggers.size(), "no input yet: nothing to checkpoint early");
        long inputAt = System.nanoTime();
        restarted.readInput = true;
        await(() -> restarted.completions.size() == 1, "the restarted attempt's first checkpoint completed");
        assertTrue(restarted.triggers.get(0)[1] - inputAt < TimeUnit.SECONDS.toNanos(5),
                "triggered right after the first input, not a minute after the start");
        Thread.sleep(300);
        assertEquals(1, restarted.triggers.size(), "the next one waits for the interval");
    }

    @Test
    void aSourceReportingItsFirstRecordsGetsTheEarlyCheckpointsBarrierBeforeItReadsMore() throws Exception {
        FakeJob fresh = start(config(60_000), new MemoryCheckpointStorage().forJob("job"), 0);
        assertEquals(1L, coordinator.triggerNow().get(10, TimeUnit.SECONDS));
        coordinator.firstRecordsRead(fresh);
        assertEquals(1, fresh.triggers.size(), "no early checkpoint on a fresh start");

        coordinator.stopAttempt();
        FakeJob restarted = new FakeJob(0);
        coordinator.startAttempt(restarted);
        restarted.readInput = true;
        coordinator.firstRecordsRead(restarted);
        // triggered on the reporting source's thread, before the call returned: not at the watch's next look
        assertEquals(1, restarted.triggers.size(), "the barrier is on its way before the source reads on");
        coordinator.firstRecordsRead(restarted);
        await(() -> restarted.completions.size() == 1, "the restarted attempt's first checkpoint completed");
        assertEquals(1, restarted.triggers.size(), "one early checkpoint per attempt, however many sources report");
    }

    @Test
    void aPeriodicCheckpointBeforeTheFirstInputLeavesTheEarlyOneToCome() throws Exception {
        FakeJob fresh = start(config(1_000), new MemoryCheckpointStorage().forJob("job"), 0);
        assertEquals(1L, coordinator.triggerNow().get(10, TimeUnit.SECONDS));
        coordinator.stopAttempt();
        FakeJob restarted = new FakeJob(0);
        coordinator.startAttempt(restarted);
        // a slow start: the interval passes before the sources read anything
        await(() -> restarted.completions.size() == 1, "the restarted attempt's periodic checkpoint, without input");
        long inputAt = System.nanoTime();
        restarted.readInput = true;
        coordinator.firstRecordsRead(restarted);
        assertEquals(2, restarted.triggers.size(), "the early checkpoint with the first input, not an interval later");
        assertTrue(restarted.triggers.get(1)[1] >= inputAt);
        await(() -> restarted.completions.size() == 2, "the early checkpoint completed");
        await(() -> restarted.triggers.size() == 3, "the next periodic checkpoint");
        assertTrue(restarted.triggers.get(2)[2] - restarted.triggers.get(1)[2] >= 900,
                "then the interval rules again, counted from the early checkpoint");
        assertEquals(1, fresh.triggers.size());
    }

    @Test
    void anAttemptStartedInTheMillisecondOfTheLastTriggerStillGetsItsEarlyCheckpoint() throws Exception {
        // the clock stands still: the restart comes within the millisecond of the last attempt's trigger
        FakeJob fresh = start(config(60_000), new MemoryCheckpointStorage().forJob("job"), new FakeJob(0), () -> 1_000L);
        assertEquals(1L, coordinator.triggerNow().get(10, TimeUnit.SECONDS));
        coordinator.stopAttempt();
        FakeJob restarted = new FakeJob(0);
        coordinator.startAttempt(restarted);
        restarted.readInput = true;
        coordinator.firstRecordsRead(restarted);
        assertEquals(1, restarted.triggers.size(), "the restarted attempt's early checkpoint, though no time passed");
        assertEquals(1, fresh.triggers.size());
    }

    @Test
    void withoutTheEarlyCheckpointARestoredAttemptWaitsForTheInterval() throws Exception {
        CheckpointConfig config = config(60_000);
        config.setEarlyCheckpointAfterRestore(false);
        FakeJob fresh = start(config, new MemoryCheckpointStorage().forJob("job"), 0);
        assertEquals(1L, coordinator.triggerNow().get(10, TimeUnit.SECONDS));
        coordinator.stopAttempt();
        FakeJob restarted = new FakeJob(0);
        restarted.readInput = true;
        coordinator.startAttempt(restarted);
        Thread.sleep(500);
        assertEquals(0, restarted.triggers.size());
        assertEquals(1, fresh.triggers.size());
    }

    @Test
    void triggersAtTheIntervalAndCompletesWhenEveryTaskAcknowledged() throws Exception {
        FakeJob job = start(config(30), new MemoryCheckpointStorage().forJob("job"), 0);
        await(() -> job.completions.size() >= 5, "5 checkpoints completed");
        for (int i = 1; i < 5; i++) {
            // the checkpoints' own timestamps (taken as the coordinator decides to trigger): the fake job's thread may
            // be held up between that decision and its note, on a busy machine by more than the quarter allowed here
            long gapMillis = job.triggers.get(i)[2] - job.triggers.get(i - 1)[2];
            // one that came a little late is followed by one a little sooner, never by more than a quarter
            assertTrue(gapMillis >= 30 - 30 / 4 - 1, "triggers " + gapMillis + " ms apart with a 30 ms interval");
        }
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L), job.completions.stream().limit(5).map(c -> c[0]).toList());
        assertTrue(job.aborted.isEmpty());
    }

    /**
     * The interval runs from the time a checkpoint was due, not from the end of its trigger: a trigger that takes a
     * while (here the storage takes 60 ms to create a checkpoint's directory) or a timer that runs late must not push
     * every later checkpoint back by as much, or a record would wait longer than the interval for its barrier.
     */
    @Test
    void theIntervalDoesNotDriftByWhatEachTriggerTakes() throws Exception {
        JobCheckpointStore slow = around(new MemoryCheckpointStorage().forJob("job"), "initCheckpoint",
                args -> Thread.sleep(60), args -> { });
        FakeJob job = start(config(200), slow, 0);
        await(() -> job.completions.size() >= 9, "9 checkpoints completed");
        long spanMillis = job.triggers.get(8)[2] - job.triggers.get(0)[2];
        // drifting, eight intervals would take at least 8 × (200 + 60) = 2,080 ms
        assertTrue(spanMillis < 8 * 200 + 240, "8 intervals of 200 ms took " + spanMillis
                + " ms from trigger to trigger");
        assertTrue(spanMillis >= 8 * 200 - 200 / 4 - 1, "8 intervals of 200 ms took only " + spanMillis + " ms");
    }

    @Test
    void neverMoreThanMaxConcurrentCheckpointsInFlight() throws Exception {
        CheckpointConfig c = config(10);
        c.setMaxConcurrentCheckpoints(2);
        c.setCheckpointTimeout(Duration.ofSeconds(30));
        FakeJob job = start(c, new MemoryCheckpointStorage().forJob("job"), -1);
        await(() -> job.triggers.size() >= 2, "two checkpoints triggered");
        Thread.sleep(200);
        assertEquals(2, job.triggers.size(), "no third checkpoint while two are pending");
        assertEquals(2, coordinator.getPendingCount());
    }

    /**
     * The final checkpoint of a bounded job and a stop's are asked for at once, but a checkpoint overlapping
     * a pending one would reach a sink before that one's completion notice; it waits, as a periodic one does.
     */
    @Test
    void aCheckpointAskedForNowWaitsForThePendingOne() throws Exception {
        FakeJob job = start(new CheckpointConfig(), new MemoryCheckpointStorage().forJob("job"), -1);
        java.util.concurrent.CompletableFuture<Long> first = coordinator.triggerNow();
        java.util.concurrent.CompletableFuture<Long> stop = coordinator.triggerStop();
        assertEquals(1, job.triggers.size(), "the stop's checkpoint is not triggered while checkpoint 1 is pending");
        acknowledgeBoth(1);
        assertEquals(1L, first.get(10, TimeUnit.SECONDS));
        assertEquals(2, job.triggers.size(), "checkpoint 1 completed, so the stop's is triggered");
        assertEquals(1L, job.completions.get(0)[0]);
        assertFalse(stop.isDone());
        acknowledgeBoth(2);
        assertEquals(2L, stop.get(10, TimeUnit.SECONDS));
    }

    @Test
    void aCheckpointAskedForNowFollowsAnAbortedOneAndFailsWhenTheAttemptEnds() throws Exception {
        FakeJob job = start(new CheckpointConfig(), new MemoryCheckpointStorage().forJob("job"), -1);
        coordinator.triggerNow();
        java.util.concurrent.CompletableFuture<Long> second = coordinator.triggerNow();
        coordinator.decline(0, 1, new RuntimeException("declined on purpose"));
        assertEquals(List.of(1L), job.aborted);
        assertEquals(2, job.triggers.size(), "checkpoint 1 was aborted, so the one asked for next is triggered");
        java.util.concurrent.CompletableFuture<Long> third = coordinator.triggerNow();
        coordinator.stopAttempt();
        assertTrue(second.isCompletedExceptionally());
        assertTrue(third.isCompletedExceptionally(), "a checkpoint still waiting when the attempt ends fails");
        assertEquals(2, job.triggers.size());
    }

    @Test
    void aStopGivenUpWhileItsCheckpointWaitedNeverStopsTheSourcesLater() throws Exception {
        FakeJob job = start(new CheckpointConfig(), new MemoryCheckpointStorage().forJob("job"), -1);
        coordinator.triggerNow();
        java.util.concurrent.CompletableFuture<Long> stop = coordinator.triggerStop();
        coordinator.resumeAfterStop();
        assertTrue(stop.isCompletedExceptionally(), "the waiting stop fails with the stop given up");
        acknowledgeBoth(1);
        assertEquals(1, job.triggers.size(), "no stop checkpoint after checkpoint 1 completed");
    }

    private void acknowledgeBoth(long id) {
        for (int task = 0; task < 2; task++) {
            coordinator.acknowledge(task, id, Map.of("op", new CheckpointMetadata.SubtaskState(task,
                    KeyGroupRange.EMPTY, new StateHandle.Inline(new byte[] {1}))), 0, 0);
        }
    }

    @Test
    void minPauseSeparatesACompletionFromTheNextTrigger() throws Exception {
        CheckpointConfig c = config(10);
        c.setMinPauseBetweenCheckpoints(Duration.ofMillis(80));
        // a checkpoint completes when its metadata is durable; the job hears of it later (after the log line, on a
        // busy machine many ms later), so the pause is measured from the store's write, not from the notice
        List<long[]> durable = new CopyOnWriteArrayList<>();
        JobCheckpointStore store = around(new MemoryCheckpointStorage().forJob("job"), "commitMetadata", args -> { },
                args -> durable.add(new long[] {((CheckpointMetadata) args[0]).checkpointId(), System.nanoTime()}));
        FakeJob job = start(c, store, 20);
        await(() -> job.completions.size() >= 4, "4 checkpoints completed");
        for (int i = 0; i < 3; i++) {
            assertEquals(i + 1, durable.get(i)[0]);
            long pauseMillis = (job.triggers.get(i + 1)[1] - durable.get(i)[1]) / 1_000_000;
            assertTrue(pauseMillis >= 78, "only " + pauseMillis + " ms between checkpoint " + (i + 1)
                    + " completing and the next trigger, min pause 80 ms");
        }
    }

    @Test
    void aSlowCheckpointTimesOutIsAbortedAndTheNextOneSucceeds() throws Exception {
        CheckpointConfig c = config(20);
        c.setCheckpointTimeout(Duration.ofMillis(100));
        c.setTolerableCheckpointFailureNumber(5);
        FakeJob job = start(c, new MemoryCheckpointStorage().forJob("job"), 400);
        await(() -> !job.aborted.isEmpty(), "the first checkpoint timed out");
        assertEquals(1L, job.aborted.get(0));
        job.ackDelayMillis = 0;
        await(() -> !job.completions.isEmpty(), "a later checkpoint completed");
        assertTrue(job.completions.get(0)[0] > 1);
        assertTrue(job.failures.isEmpty(), "failures within the tolerable number must not fail the job");
        assertTrue(coordinator.getFailedCount() >= 1);
    }

    @Test
    void tooManyConsecutiveFailuresFailTheJob() throws Exception {
        CheckpointConfig c = config(10);
        c.setTolerableCheckpointFailureNumber(2);
        FakeJob job = new FakeJob(0);
        job.declineIf = id -> id <= 3; // exactly three in a row: the fake job keeps checkpointing after it "failed"
        start(c, new MemoryCheckpointStorage().forJob("job"), job);
        await(() -> !job.failures.isEmpty(), "the job failed");
        assertEquals(1, job.failures.size());
        assertEquals(List.of(1L, 2L, 3L), job.aborted, "failed on the third consecutive failure, with 2 tolerated");
        assertTrue(job.failures.get(0).getMessage().contains("tolerable number of consecutive checkpoint failures (2)"),
                job.failures.get(0).getMessage());
    }

    @Test
    void aSuccessResetsTheConsecutiveFailureCount() throws Exception {
        CheckpointConfig c = config(10);
        c.setTolerableCheckpointFailureNumber(1);
        FakeJob job = new FakeJob(0);
        job.declineIf = id -> id % 2 == 1;
        coordinator = new CheckpointCoordinator("job", c, new MemoryCheckpointStorage().forJob("job"), Clock.SYSTEM,
                FaultInjector.NONE, null, List.of(), 0, io.onceflow.runtime.storage.Ownership.NONE);
        coordinator.startAttempt(job);
        await(() -> job.completions.size() >= 4, "4 checkpoints completed");
        assertEquals(List.of(1L, 3L, 5L, 7L), job.aborted.stream().limit(4).toList(), "every odd checkpoint failed");
        assertEquals(List.of(2L, 4L, 6L, 8L), job.completions.stream().limit(4).map(x -> x[0]).toList());
        assertTrue(job.failures.isEmpty(), "alternating failures and successes never exceed 1 in a row: " + job.failures);
    }

    @Test
    void keepsOnlyTheRetainedNumberOfCheckpointsOnDisk(@TempDir Path dir) throws Exception {
        CheckpointConfig c = config(10);
        c.setNumRetainedCheckpoints(2);
        JobCheckpointStore store = new FileSystemCheckpointStorage(dir).forJob("job");
        FakeJob job = start(c, store, 0);
        await(() -> job.completions.size() >= 6, "6 checkpoints completed");
        coordinator.shutdown();
        List<Long> complete;
        try (Stream<Path> s = Files.list(dir.resolve("job"))) {
            complete = s.filter(p -> Files.exists(p.resolve("_metadata")))
                    .map(p -> Long.parseLong(p.getFileName().toString().substring("chk-".length()))).sorted().toList();
        }
        long last = coordinator.getLatestCompletedId();
        assertEquals(List.of(last - 1, last), complete);
        assertEquals(last, store.loadLatestCompleted().orElseThrow().checkpointId());
        assertFalse(coordinator.getRetainedIds().isEmpty());
    }
}
