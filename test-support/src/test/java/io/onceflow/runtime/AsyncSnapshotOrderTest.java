package io.onceflow.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.CheckpointStats;
import io.onceflow.api.JobClient;
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
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The asynchronous parts of a task's checkpoints run on a shared pool, but one task's acknowledge in
 * the order of their barriers: a checkpoint whose state is slow to write is not overtaken (and
 * subsumed, failing a stop that waits for it) by the next one.
 */
class AsyncSnapshotOrderTest {

    private static final long TOTAL = 40_000;
    private static final int KEYS = 50;

    @TempDir
    Path dir;

    @Test
    void aSlowWriteIsNotOvertakenByTheNextCheckpoint() throws Exception {
        CommittedStore store = CommittedStore.inMemory();
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(1);
        env.enableCheckpointing(Duration.ofMillis(50));
        env.getCheckpointConfig().setMaxConcurrentCheckpoints(2);
        env.getCheckpointConfig().setInlineStateThresholdBytes(0); // every subtask's state goes through the storage
        env.getCheckpointConfig().setCheckpointStorage(FailingCheckpointStorage
                .wrap(new FileSystemCheckpointStorage(dir.resolve("checkpoints")))
                .slowStateOf(id -> id == 1, Duration.ofMillis(1500)));
        env.setRestartStrategy(RestartStrategies.noRestart());
        env.fromSource(SequenceSource.bounded(2, TOTAL, KEYS).throttled(5_000), "sequence").uid("source")
                .keyBy(k -> k)
                .process(new RunningCount()).uid("count")
                .sinkTo(new TransactionalTestSink(store)).uid("sink");

        JobClient job = env.executeAsync("slow-first-write");
        assertEquals(JobStatus.FINISHED, job.awaitTermination(Duration.ofSeconds(60)));

        List<Long> completed = job.getCompletedCheckpoints().stream().map(CheckpointStats::checkpointId).toList();
        assertTrue(completed.size() >= 3, "completed: " + completed);
        assertEquals(1L, completed.get(0), "checkpoint 1, slow to write, completed first: " + completed);
        for (int i = 1; i < completed.size(); i++) {
            assertEquals(completed.get(i - 1) + 1, completed.get(i), "completed in order, none subsumed: " + completed);
        }
        assertEquals(0, job.getMetrics().numberOfFailedCheckpoints(), job.getMetrics().toString());
        SequenceChecker.Result result = SequenceChecker.check(store.readAll(), SequenceChecker.expectedForSequence(TOTAL, KEYS));
        assertTrue(result.exact(), result.toString());
    }
}
