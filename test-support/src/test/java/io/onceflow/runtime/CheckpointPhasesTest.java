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
import io.onceflow.testing.SequenceSource;
import io.onceflow.testing.TransactionalTestSink;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each completed checkpoint says where its time went: when its barriers were all aligned, its synchronous
 * parts done, its state acknowledged, its metadata durable, its completion handed out and handled by every
 * subtask (the sinks committed), in that order; a slow state write shows up in the acknowledged phase.
 */
class CheckpointPhasesTest {

    @TempDir
    Path dir;

    @Test
    void phasesEndInOrderAndASlowWriteShowsInTheAcknowledgedPhase() throws Exception {
        CommittedStore store = CommittedStore.inMemory();
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(2);
        env.enableCheckpointing(Duration.ofMillis(50));
        env.getCheckpointConfig().setInlineStateThresholdBytes(0); // every subtask's state goes through the storage
        env.getCheckpointConfig().setCheckpointStorage(FailingCheckpointStorage
                .wrap(new FileSystemCheckpointStorage(dir.resolve("checkpoints")))
                .slowStateOf(id -> id == 3, Duration.ofMillis(400)));
        env.setRestartStrategy(RestartStrategies.noRestart());
        env.fromSource(SequenceSource.bounded(2, 20_000, 50).throttled(5_000), "sequence").uid("source")
                .keyBy(k -> k)
                .process(new RunningCount()).uid("count")
                .sinkTo(new TransactionalTestSink(store)).uid("sink");

        JobClient job = env.executeAsync("phases");
        assertEquals(JobStatus.FINISHED, job.awaitTermination(Duration.ofSeconds(60)));

        List<CheckpointStats> completed = job.getCompletedCheckpoints();
        assertTrue(completed.size() >= 5, "completed: " + completed);
        int handled = 0;
        for (CheckpointStats s : completed) {
            CheckpointStats.Phases p = s.phases();
            long[] ends = {p.alignedMicros(), p.syncDoneMicros(), p.acknowledgedMicros(), p.durableMicros(),
                    p.notifiedMicros()};
            for (int i = 0; i < ends.length; i++) {
                assertTrue(ends[i] >= 0 && (i == 0 || ends[i] >= ends[i - 1]), "checkpoint " + s.checkpointId()
                        + ": phase " + i + " out of order: " + p);
            }
            assertTrue(p.durableMicros() / 1000 <= s.durationMillis() + 1, s.toString());
            if (p.committedMicros() >= 0) {
                assertTrue(p.committedMicros() >= p.notifiedMicros(), s.toString());
                handled++;
            }
        }
        assertTrue(handled >= completed.size() - 1, "every subtask handled the completion of all but maybe the last: "
                + completed);
        CheckpointStats slow = completed.stream().filter(s -> s.checkpointId() == 3).findFirst().orElseThrow();
        assertTrue(slow.phases().acknowledgedMicros() >= 400_000, "the 400 ms state write of checkpoint 3: " + slow);
        assertTrue(slow.phases().syncDoneMicros() < 400_000, "its barriers and sync parts were not slow: " + slow);
    }
}
