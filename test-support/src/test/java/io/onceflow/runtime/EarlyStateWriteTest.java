package io.onceflow.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.CheckpointStats;
import io.onceflow.api.JobClient;
import io.onceflow.api.JobStatus;
import io.onceflow.api.RestartStrategies;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.api.serialization.VersionedSerializer;
import io.onceflow.api.sink.Committer;
import io.onceflow.api.sink.CommittingSinkWriter;
import io.onceflow.api.sink.Sink;
import io.onceflow.api.sink.SinkInitContext;
import io.onceflow.api.sink.SinkWriter;
import io.onceflow.api.sink.SupportsCommitter;
import io.onceflow.runtime.fault.FaultPoint;
import io.onceflow.runtime.storage.FileSystemCheckpointStorage;
import io.onceflow.testing.CommittedStore;
import io.onceflow.testing.InjectedFailure;
import io.onceflow.testing.RunningCount;
import io.onceflow.testing.SequenceChecker;
import io.onceflow.testing.SequenceSource;
import io.onceflow.testing.TransactionalTestSink;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A task whose chain has keyed state followed by a sink starts writing the frozen keyed state while the sink still
 * pre-commits (a Kafka sink waits there for its records to be acknowledged), instead of after the whole synchronous
 * part. The sink here waits in its pre-commit until the counting operator's state file of that checkpoint is written:
 * without the early write it would wait in vain. (A checkpoint whose barrier comes while the task's previous part is
 * still finishing, its acknowledgement sent, does not start early, to keep the task's acknowledgements in order; the
 * pause between checkpoints makes that rare, and the tests count on most checkpoints, not all.)
 */
class EarlyStateWriteTest {

    private static final long TOTAL = 20_000;
    private static final int KEYS = 40;
    private static final Duration WAIT = Duration.ofSeconds(5);

    @TempDir
    Path dir;

    @Test
    void theKeyedStateIsWrittenWhileTheSinkPreCommits() throws Exception {
        CommittedStore store = CommittedStore.inMemory();
        GatedSink sink = new GatedSink(store, dir.resolve("checkpoints").resolve("early-write"), false);
        JobClient job = runToTheEnd("early-write", sink, env -> env.setRestartStrategy(RestartStrategies.noRestart()));

        List<Long> completed = job.getCompletedCheckpoints().stream().map(CheckpointStats::checkpointId).toList();
        assertTrue(completed.size() >= 3, "completed: " + completed);
        long writtenEarly = completed.stream()
                .filter(id -> Boolean.TRUE.equals(sink.stateWrittenDuringPreCommit.get(id))).count();
        assertTrue(writtenEarly >= 3 && writtenEarly * 2 > completed.size(), "the counting state was written while "
                + "the sink pre-committed in " + writtenEarly + " of the completed checkpoints " + completed + ": "
                + sink.stateWrittenDuringPreCommit);
        assertExact(store);
    }

    @Test
    void aPreCommitFailingAfterTheEarlyWriteDeclinesOnlyItsCheckpoint() throws Exception {
        CommittedStore store = CommittedStore.inMemory();
        GatedSink sink = new GatedSink(store, dir.resolve("checkpoints").resolve("early-write-declined"), true);
        JobClient job = runToTheEnd("early-write-declined", sink, env -> {
            env.getCheckpointConfig().setTolerableCheckpointFailureNumber(1);
            env.setRestartStrategy(RestartStrategies.noRestart());
        });

        List<Long> completed = job.getCompletedCheckpoints().stream().map(CheckpointStats::checkpointId).toList();
        long failed = sink.failedPreCommit.get();
        assertTrue(failed >= 2, "no pre-commit failed after an early write: " + sink.stateWrittenDuringPreCommit);
        assertFalse(completed.contains(failed), "checkpoint " + failed + ", whose pre-commit failed, completed: "
                + completed);
        assertTrue(completed.stream().anyMatch(id -> id > failed), "no checkpoint completed after the declined one: "
                + completed);
        assertEquals(1, job.getMetrics().numberOfFailedCheckpoints(), job.getMetrics().toString());
        assertExact(store);
    }

    @Test
    void aTaskFailingWhileItsStateIsWrittenRestoresExactly() throws Exception {
        CommittedStore store = CommittedStore.inMemory();
        GatedSink sink = new GatedSink(store, dir.resolve("checkpoints").resolve("early-write-failover"), false);
        AtomicBoolean failed = new AtomicBoolean();
        JobClient job = runToTheEnd("early-write-failover", sink, env -> {
            env.setRestartStrategy(RestartStrategies.fixedDelay(3, Duration.ZERO));
            env.setFaultInjector((point, uid, subtask, checkpointId) -> {
                // after the sink's pre-commit, the counting state's write started: the task fails with it in flight
                if (point == FaultPoint.AFTER_SNAPSHOT && "sink".equals(uid) && checkpointId >= 3
                        && Boolean.TRUE.equals(sink.stateWrittenDuringPreCommit.get(checkpointId))
                        && failed.compareAndSet(false, true)) {
                    throw new InjectedFailure("task fails after the synchronous part of checkpoint " + checkpointId);
                }
            });
        });

        assertTrue(failed.get(), "the failure was injected");
        assertEquals(1, job.getMetrics().numRestarts(), job.getMetrics().toString());
        assertExact(store);
    }

    /** Runs the counting job into {@code sink} until its input ends, configured further by {@code configure}. */
    private JobClient runToTheEnd(String name, GatedSink sink, Consumer<StreamEnvironment> configure)
            throws Exception {
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(1);
        env.enableCheckpointing(Duration.ofMillis(100));
        env.getCheckpointConfig().setMaxConcurrentCheckpoints(1);
        env.getCheckpointConfig().setMinPauseBetweenCheckpoints(Duration.ofMillis(20));
        env.getCheckpointConfig().setInlineStateThresholdBytes(0); // the counting state goes to a file of its own
        env.getCheckpointConfig().setCheckpointStorage(new FileSystemCheckpointStorage(dir.resolve("checkpoints")));
        configure.accept(env);
        env.fromSource(SequenceSource.bounded(1, TOTAL, KEYS).throttled(8_000), "sequence").uid("source")
                .keyBy(k -> k)
                .process(new RunningCount()).uid("count")
                .sinkTo(sink).uid("sink");
        JobClient job = env.executeAsync(name);
        assertEquals(JobStatus.FINISHED, job.awaitTermination(Duration.ofSeconds(120)));
        return job;
    }

    /** Read back from the committed store, independently of what the job reports. */
    private static void assertExact(CommittedStore store) throws IOException {
        SequenceChecker.Result result = SequenceChecker.check(store.readAll(),
                SequenceChecker.expectedForSequence(TOTAL, KEYS));
        assertTrue(result.exact(), result.toString());
    }

    /**
     * The test sink, whose pre-commit first waits (up to {@link #WAIT}) until the counting operator's state file of
     * the checkpoint is written and records whether it was; with {@code failOnce}, the first pre-commit from
     * checkpoint 2 on that found the file written then fails.
     */
    private static final class GatedSink implements Sink<String>,
            SupportsCommitter<TransactionalTestSink.Transaction> {
        private final TransactionalTestSink inner;
        private final Path jobDir;
        private final boolean failOnce;
        final Map<Long, Boolean> stateWrittenDuringPreCommit = new ConcurrentHashMap<>();
        /** The checkpoint whose pre-commit failed, or -1. */
        final AtomicLong failedPreCommit = new AtomicLong(-1);

        GatedSink(CommittedStore store, Path jobDir, boolean failOnce) {
            this.inner = new TransactionalTestSink(store);
            this.jobDir = jobDir;
            this.failOnce = failOnce;
        }

        @Override
        @SuppressWarnings("unchecked")
        public SinkWriter<String> createWriter(SinkInitContext context) throws Exception {
            var writer = (CommittingSinkWriter<String, TransactionalTestSink.Transaction>) inner.createWriter(context);
            return new CommittingSinkWriter<String, TransactionalTestSink.Transaction>() {
                @Override
                public void write(String element) throws Exception {
                    writer.write(element);
                }

                @Override
                public Collection<TransactionalTestSink.Transaction> prepareCommit(long checkpointId)
                        throws Exception {
                    boolean written = awaitStateFile(checkpointId);
                    stateWrittenDuringPreCommit.put(checkpointId, written);
                    if (failOnce && written && checkpointId >= 2 && failedPreCommit.compareAndSet(-1, checkpointId)) {
                        throw new IOException("pre-commit of checkpoint " + checkpointId + " fails (test)");
                    }
                    return new ArrayList<>(writer.prepareCommit(checkpointId));
                }
            };
        }

        private boolean awaitStateFile(long checkpointId) throws InterruptedException {
            Path file = jobDir.resolve("chk-" + checkpointId).resolve("count-0.state");
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (System.nanoTime() < deadline) {
                try {
                    if (Files.size(file) > 0) {
                        return true;
                    }
                } catch (IOException notYet) {
                    // not created yet
                }
                Thread.sleep(1);
            }
            return false;
        }

        @Override
        public Committer<TransactionalTestSink.Transaction> createCommitter(SinkInitContext context) {
            return inner.createCommitter(context);
        }

        @Override
        public VersionedSerializer<TransactionalTestSink.Transaction> getCommittableSerializer() {
            return inner.getCommittableSerializer();
        }
    }
}
