package io.onceflow.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.HeapStateBackend;
import io.onceflow.api.JobClient;
import io.onceflow.api.JobMetrics;
import io.onceflow.api.JobStatus;
import io.onceflow.api.RestartStrategies;
import io.onceflow.api.RocksDBStateBackend;
import io.onceflow.api.StateBackend;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.runtime.fault.FaultPoint;
import io.onceflow.runtime.storage.FileSystemCheckpointStorage;
import io.onceflow.testing.CommittedStore;
import io.onceflow.testing.FailingCheckpointStorage;
import io.onceflow.testing.InjectedFailure;
import io.onceflow.testing.RunningCount;
import io.onceflow.testing.SequenceChecker;
import io.onceflow.testing.SequenceSource;
import io.onceflow.testing.TransactionalTestSink;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Whole jobs with incremental checkpoints (RocksDB's shared SST files, the heap's chains of deltas):
 * exact through restores, shared files kept exactly while referred to, and a switch of backend at
 * another parallelism.
 */
class RocksDBJobTest {

    private static final long TOTAL = 40_000;
    private static final int KEYS = 300;

    @TempDir
    Path dir;

    private StreamEnvironment countJob(int parallelism, StateBackend backend, CommittedStore store, int rate) {
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(parallelism);
        env.setStateBackend(backend);
        env.enableCheckpointing(Duration.ofMillis(40));
        env.getCheckpointConfig().setCheckpointStorage(dir.resolve("checkpoints").toUri().toString());
        env.setRestartStrategy(RestartStrategies.fixedDelay(10, Duration.ZERO));
        env.fromSource(SequenceSource.bounded(4, TOTAL, KEYS).throttled(rate), "sequence").uid("source")
                .keyBy(w -> w)
                .process(new RunningCount()).uid("count")
                .sinkTo(new TransactionalTestSink(store)).uid("sink");
        return env;
    }

    private RocksDBStateBackend rocks() {
        return RocksDBStateBackend.create().withLocalDirectory(dir.resolve("rocksdb"));
    }

    private StateBackend backend(String name) {
        return name.equals("rocksdb") ? rocks() : new HeapStateBackend();
    }

    @ParameterizedTest
    @ValueSource(strings = {"rocksdb", "heap"})
    void exactThroughFailuresAtTheDangerousMoments(String backend) throws Exception {
        CommittedStore store = CommittedStore.inMemory();
        StreamEnvironment env = countJob(3, backend(backend), store, 5_000);
        java.util.Set<FaultPoint> fired = java.util.concurrent.ConcurrentHashMap.newKeySet();
        env.setFaultInjector((point, uid, subtask, checkpointId) -> {
            boolean fail = switch (point) {
                case AFTER_SNAPSHOT -> checkpointId == 4 && "count".equals(uid);
                case AFTER_CHECKPOINT_COMPLETE_BEFORE_NOTIFY -> checkpointId == 9;
                case BEFORE_COMMIT -> checkpointId == 14;
                default -> false;
            };
            if (fail && fired.add(point)) {
                throw new InjectedFailure(point + " at checkpoint " + checkpointId);
            }
        });
        JobMetrics metrics = env.execute("rocksdb-faults");
        assertEquals(3, fired.size(), "every planned failure fired");
        assertTrue(metrics.numRestarts() >= 3, metrics.toString());
        SequenceChecker.Result result = SequenceChecker.check(store.readAll(), SequenceChecker.expectedForSequence(TOTAL, KEYS));
        assertTrue(result.exact(), "after " + metrics.numRestarts() + " restores from " + backend + " state: " + result);
        if (backend.equals("rocksdb")) {
            try (var leftovers = Files.list(dir.resolve("rocksdb"))) {
                assertEquals(0, leftovers.count(), "every working database was closed and deleted");
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"rocksdb", "heap"})
    void incrementalCheckpointsShareFilesAndKeepOnlyWhatRetainedCheckpointsReferTo(String backend) throws Exception {
        CommittedStore store = CommittedStore.inMemory();
        StreamEnvironment env = countJob(2, backend(backend), store, 10_000);
        env.getCheckpointConfig().setNumRetainedCheckpoints(2);
        JobClient job = env.executeAsync("incremental");
        assertEquals(JobStatus.FINISHED, job.awaitTermination(Duration.ofSeconds(60)));
        var stats = job.getCompletedCheckpoints();
        assertTrue(stats.stream().anyMatch(s -> s.incrementalSizeBytes() < s.stateSizeBytes()),
                "some checkpoints wrote less than their full size: " + stats);
        SequenceChecker.Result result = SequenceChecker.check(store.readAll(), SequenceChecker.expectedForSequence(TOTAL, KEYS));
        assertTrue(result.exact(), result.toString());

        io.onceflow.runtime.storage.JobCheckpointStore checkpoints =
                new io.onceflow.runtime.storage.FileSystemCheckpointStorage(dir.resolve("checkpoints")).forJob("incremental");
        java.util.Set<String> referenced = checkpoints.loadLatestCompleted().orElseThrow().sharedPaths();
        assertEquals(2, checkpoints.completedCheckpointIds().size(), "two retained");
        java.util.Set<String> present;
        try (var files = Files.list(dir.resolve("checkpoints/incremental/shared"))) {
            present = files.map(p -> "shared/" + p.getFileName()).collect(java.util.stream.Collectors.toSet());
        }
        assertTrue(present.containsAll(referenced), "every file a retained checkpoint refers to is there");
        checkpoints.discardUnreferencedSharedState();
        try (var files = Files.list(dir.resolve("checkpoints/incremental/shared"))) {
            assertTrue(files.count() <= present.size());
        }
    }

    @Test
    void aJobCheckpointedOnTheHeapResumesOnRocksDBAtAnotherParallelism() throws Exception {
        CommittedStore store = CommittedStore.inDirectory(dir.resolve("out"));
        JobClient first = countJob(2, new HeapStateBackend(), store, 2_000).executeAsync("switch");
        await(() -> first.getMetrics().numberOfCompletedCheckpoints() >= 3, "3 checkpoints on the heap");
        first.cancel();
        first.awaitTermination(Duration.ofSeconds(30));
        long before = store.readAll().size();
        assertTrue(before > 0 && before < TOTAL, "stopped midway: " + before);

        JobMetrics second = countJob(3, rocks(), store, 20_000).execute("switch");
        assertEquals(JobStatus.FINISHED, second.status());
        SequenceChecker.Result result = SequenceChecker.check(store.readAll(), SequenceChecker.expectedForSequence(TOTAL, KEYS));
        assertTrue(result.exact(), "heap at parallelism 2, then RocksDB at 3: " + result);
    }

    /**
     * A database closes only once the snapshot that reads it is written: a job that ends meanwhile waits for that
     * write (interrupted by the end) before it reports the end, so its working directories are gone by then.
     */
    @Test
    void aJobThatEndsWhileItsStateIsWrittenHasDeletedItsDatabasesWhenItReportsTheEnd() throws Exception {
        StreamEnvironment env = countJob(2, rocks(), CommittedStore.inMemory(), 2_000);
        CountDownLatch writing = new CountDownLatch(1);
        env.getCheckpointConfig().setInlineStateThresholdBytes(0); // every subtask's state goes through the storage
        env.getCheckpointConfig().setCheckpointStorage(FailingCheckpointStorage
                .wrap(new FileSystemCheckpointStorage(dir.resolve("checkpoints")))
                .slowStateOf("count", id -> {
                    if (id < 3) {
                        return false;
                    }
                    writing.countDown();
                    return true;
                }, Duration.ofSeconds(25)));
        JobClient job = env.executeAsync("ends-while-writing");
        assertTrue(writing.await(60, TimeUnit.SECONDS), "a write of the running count's state began");
        job.cancel();
        assertEquals(JobStatus.CANCELED, job.awaitTermination(Duration.ofSeconds(60)));
        try (var leftovers = Files.list(dir.resolve("rocksdb"))) {
            assertEquals(List.of(), leftovers.toList(), "every working database was closed and deleted");
        }
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
}
