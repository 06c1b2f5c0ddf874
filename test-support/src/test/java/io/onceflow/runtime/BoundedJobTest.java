package io.onceflow.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.JobMetrics;
import io.onceflow.api.JobStatus;
import io.onceflow.api.KeyedValue;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.testing.CommittedStore;
import io.onceflow.testing.RunningCount;
import io.onceflow.testing.SequenceChecker;
import io.onceflow.testing.SequenceSource;
import io.onceflow.testing.TransactionalTestSink;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** A bounded job finishes when its sources end, after a final checkpoint that lets sinks commit the tail. */
class BoundedJobTest {

    @Test
    void withoutPeriodicCheckpointsTheFinalCheckpointCommitsEverything() throws Exception {
        CommittedStore store = CommittedStore.inMemory();
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(3);
        env.fromSource(SequenceSource.bounded(3, 9_000, 50), "sequence")
                .keyBy(w -> w)
                .process(new RunningCount())
                .sinkTo(new TransactionalTestSink(store));
        JobMetrics metrics = env.execute("bounded-no-checkpoints");
        assertEquals(JobStatus.FINISHED, metrics.status());
        assertEquals(1, metrics.numberOfCompletedCheckpoints(), "exactly the final checkpoint");
        assertEquals(9_000, metrics.numRecordsIn());
        assertEquals(9_000, metrics.numRecordsOut());
        assertTrue(SequenceChecker.check(store.readAll(), SequenceChecker.expectedForSequence(9_000, 50)).exact());
    }

    @Test
    void withPeriodicCheckpointsTheTailAfterTheLastOneIsCommittedToo() throws Exception {
        CommittedStore store = CommittedStore.inMemory();
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(2);
        env.enableCheckpointing(Duration.ofMillis(30));
        env.getCheckpointConfig().setCheckpointStorage("memory:"); // repeats output only after a process restart
        env.fromSource(SequenceSource.bounded(2, 6_000, 40).throttled(10_000), "sequence")
                .keyBy(w -> w)
                .process(new RunningCount())
                .sinkTo(new TransactionalTestSink(store));
        JobMetrics metrics = env.execute("bounded-periodic");
        assertTrue(metrics.numberOfCompletedCheckpoints() > 1);
        assertTrue(SequenceChecker.check(store.readAll(), SequenceChecker.expectedForSequence(6_000, 40)).exact());
    }

    @Test
    void sumAndReduceHelpers() throws Exception {
        CommittedStore store = CommittedStore.inMemory();
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(2);
        env.fromSource(SequenceSource.bounded(2, 1_000, 10), "sequence")
                .keyBy(w -> w)
                .count()
                .map((KeyedValue<String, Long> kv) -> kv.key() + "," + kv.value())
                .sinkTo(new TransactionalTestSink(store));
        env.execute("count-helper");
        assertTrue(SequenceChecker.check(store.readAll(), SequenceChecker.expectedForSequence(1_000, 10)).exact());
    }
}
