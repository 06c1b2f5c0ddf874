package io.onceflow.twophase;

import io.onceflow.api.sink.TrackedCommitRequest;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.CheckpointConfig;
import io.onceflow.api.ValidatesConfiguration;
import io.onceflow.api.serialization.VersionedSerializer;
import io.onceflow.api.sink.Committer;
import io.onceflow.api.sink.SinkInitContext;
import io.onceflow.api.sink.TrackedCommitRequest.Outcome;
import io.onceflow.testing.ValidationContext;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The two-phase-commit protocol of {@link TwoPhaseCommitSink}, driven by hand against an in-memory
 * transactional system: what a reader of that system sees after each step.
 */
class TwoPhaseCommitSinkTest {

    private final InMemoryTransactions external = new InMemoryTransactions();
    private final MutableClock clock = new MutableClock();
    private final TwoPhaseCommitSink<String, String> sink = TwoPhaseCommitSink.builder(external).clock(clock).build();

    @Test
    void recordsBecomeVisibleOnlyWhenTheirCheckpointCompletes() throws Exception {
        TwoPhaseCommitWriter<String, String> writer = freshWriter(sink, 0, 1);
        Committer<TransactionHolder<String>> committer = sink.createCommitter(TestSinkContext.fresh(0, 1));

        writer.write("a");
        writer.write("b");
        Collection<TransactionHolder<String>> checkpoint1 = writer.prepareCommit(1);
        writer.write("c");
        Collection<TransactionHolder<String>> checkpoint2 = writer.prepareCommit(2);
        writer.write("d");
        assertEquals(List.of(), external.visible(), "pre-committed is not committed");

        assertAllCommitted(TrackedCommitRequest.commit(committer, checkpoint1));
        assertEquals(List.of("a", "b"), external.visible());
        assertAllCommitted(TrackedCommitRequest.commit(committer, checkpoint2));
        assertEquals(List.of("a", "b", "c"), external.visible(), "d is in the open transaction");
        assertEquals(List.of("t0-0-0", "t0-0-1"), external.callsTo("commit"));
        assertEquals(TransactionState.COMMITTED, checkpoint1.iterator().next().state());
        assertEquals(1, checkpoint1.iterator().next().checkpointId());
    }

    @Test
    void theSinkCountsItsTransactionsBegunPreCommittedCommittedAndAborted() throws Exception {
        io.onceflow.api.metrics.MetricGroup metrics = io.onceflow.api.metrics.MetricGroup.unregistered();
        TestSinkContext plain = TestSinkContext.fresh(0, 1);
        io.onceflow.api.sink.SinkInitContext context = new io.onceflow.api.sink.SinkInitContext() {
            @Override
            public int getIndexOfSubtask() {
                return plain.getIndexOfSubtask();
            }

            @Override
            public int getParallelism() {
                return plain.getParallelism();
            }

            @Override
            public String getOperatorUid() {
                return plain.getOperatorUid();
            }

            @Override
            public String getJobName() {
                return plain.getJobName();
            }

            @Override
            public int getAttemptNumber() {
                return 0;
            }

            @Override
            public java.util.OptionalLong getRestoredCheckpointId() {
                return plain.getRestoredCheckpointId();
            }

            @Override
            public io.onceflow.api.metrics.MetricGroup getMetricGroup() {
                return metrics;
            }
        };
        @SuppressWarnings("unchecked")
        TwoPhaseCommitWriter<String, String> writer = (TwoPhaseCommitWriter<String, String>) sink.createWriter(context);
        Committer<TransactionHolder<String>> committer = sink.createCommitter(context);
        writer.write("a");
        Collection<TransactionHolder<String>> checkpoint1 = writer.prepareCommit(1);
        writer.write("b");
        Collection<TransactionHolder<String>> checkpoint2 = writer.prepareCommit(2);
        writer.write("c");
        assertAllCommitted(TrackedCommitRequest.commit(committer, checkpoint1));
        assertAllCommitted(TrackedCommitRequest.commit(committer, checkpoint2));
        writer.close(); // aborts the open transaction holding c

        assertEquals(3, metrics.counter("transactionsBegun").getCount());
        assertEquals(2, metrics.counter("transactionsPreCommitted").getCount());
        assertEquals(2, metrics.counter("transactionsCommitted").getCount());
        assertEquals(1, metrics.counter("transactionsAborted").getCount());
    }

    @Test
    void whenTheNextTransactionCannotBeginThePreCommittedOneStillBelongsToItsCheckpoint() throws Exception {
        TwoPhaseCommitWriter<String, String> writer = freshWriter(sink, 0, 1);
        Committer<TransactionHolder<String>> committer = sink.createCommitter(TestSinkContext.fresh(0, 1));
        writer.write("a");
        external.beginFailure = new IllegalStateException("the system is down");
        Collection<TransactionHolder<String>> checkpoint1 = writer.prepareCommit(1);
        assertEquals(1, checkpoint1.size(), "the pre-committed transaction goes into checkpoint 1");
        IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> writer.write("b"));
        assertTrue(e.getMessage().contains("could not begin a transaction after checkpoint 1: "
                + "java.lang.IllegalStateException: the system is down"), e.getMessage());
        external.beginFailure = null;
        assertAllCommitted(TrackedCommitRequest.commit(committer, checkpoint1));
        assertEquals(List.of("a"), external.visible(), "checkpoint 1's record is committed with it");
    }

    @Test
    void aBatchCoveringSeveralCheckpointsIsCommittedInCheckpointOrder() throws Exception {
        TwoPhaseCommitWriter<String, String> writer = freshWriter(sink, 0, 1);
        List<TransactionHolder<String>> pending = new ArrayList<>();
        for (int checkpoint = 1; checkpoint <= 3; checkpoint++) {
            writer.write("r" + checkpoint);
            pending.addAll(writer.prepareCommit(checkpoint));
        }

        assertAllCommitted(TrackedCommitRequest.commit(sink.createCommitter(TestSinkContext.fresh(0, 1)), pending));

        assertEquals(List.of("t0-0-0", "t0-0-1", "t0-0-2"), external.callsTo("commit"));
        assertEquals(List.of("r1", "r2", "r3"), external.visible());
    }

    @Test
    void anEmptyTransactionIsNeitherPreCommittedNorCommittedButStaysOpen() throws Exception {
        TwoPhaseCommitWriter<String, String> writer = freshWriter(sink, 0, 1);

        assertEquals(List.of(), writer.prepareCommit(1));
        assertEquals(List.of(), writer.prepareCommit(2));
        List<TransactionHolder<String>> state = writer.snapshotState(2);
        assertEquals(TransactionState.OPEN, state.get(0).state());
        writer.write("x");
        Collection<TransactionHolder<String>> checkpoint3 = writer.prepareCommit(3);

        assertEquals(List.of("t0-0-0"), external.callsTo("preCommit"), "only the transaction with a record");
        assertEquals(List.of("t0-0-0", "t0-0-1"), external.callsTo("begin"), "the empty one was kept, not replaced");
        assertEquals(List.of("t0-0-0"), state.stream().map(TransactionHolder::handle).toList());
        assertEquals(List.of("t0-0-0"), checkpoint3.stream().map(TransactionHolder::handle).toList());
        assertEquals(TransactionState.OPEN, state.get(0).state(), "the checkpointed copy does not change");
    }

    @Test
    void theEndOfInputPreCommitsTheLastTransactionAndBeginsNoOther() throws Exception {
        TwoPhaseCommitWriter<String, String> writer = freshWriter(sink, 0, 1);
        writer.write("last");
        writer.flush(true);

        Collection<TransactionHolder<String>> finalCheckpoint = writer.prepareCommit(1);

        assertEquals(1, finalCheckpoint.size());
        assertEquals(List.of("t0-0-0"), external.callsTo("begin"));
        assertEquals(List.of(), writer.snapshotState(1), "no open transaction to checkpoint");
        assertEquals(List.of(), writer.prepareCommit(2), "a later checkpoint has nothing to commit");
        assertThrows(IllegalStateException.class, () -> writer.write("too late"));
        assertAllCommitted(TrackedCommitRequest.commit(sink.createCommitter(TestSinkContext.fresh(0, 1)), finalCheckpoint));
        assertEquals(List.of("last"), external.visible());
    }

    @Test
    void anEmptyTransactionAtTheEndOfInputIsAborted() throws Exception {
        TwoPhaseCommitWriter<String, String> writer = freshWriter(sink, 0, 1);
        writer.flush(true);

        assertEquals(List.of(), writer.prepareCommit(1));

        assertEquals(List.of("t0-0-0"), external.callsTo("abort"));
        assertEquals(List.of("t0-0-0"), external.callsTo("begin"));
        assertEquals(List.of(), writer.snapshotState(1));
        assertTrue(external.uncommitted.isEmpty());
    }

    @Test
    void aRestoreCommitsTheRestoredPreCommittedTransactionsAndAbortsTheOpenOne() throws Exception {
        TwoPhaseCommitWriter<String, String> writer = freshWriter(sink, 0, 1);
        writer.write("a");
        Collection<TransactionHolder<String>> committables = writer.prepareCommit(5);
        List<TransactionHolder<String>> writerState = writer.snapshotState(5);
        writer.write("b"); // after checkpoint 5: will be replayed
        // crash after checkpoint 5 completed, before the sink heard of it: the objects are abandoned
        external.calls.clear();

        Committer<TransactionHolder<String>> committer = sink.createCommitter(TestSinkContext.restored(0, 1, 5));
        assertAllCommitted(TrackedCommitRequest.commit(committer, roundTrip(sink.getCommittableSerializer(), committables)));
        TwoPhaseCommitWriter<String, String> restored = restoredWriter(sink, TestSinkContext.restored(0, 1, 5),
                roundTrip(sink.getWriterStateSerializer(), writerState));
        restored.write("b");
        assertAllCommitted(TrackedCommitRequest.commit(committer, restored.prepareCommit(6)));

        assertEquals(List.of("a", "b"), external.visible());
        assertEquals(List.of("t0-0-0"), external.callsTo("recoverAndCommit"));
        assertEquals(List.of("t0-0-1"), external.callsTo("recoverAndAbort"));
        assertEquals(List.of("t0-5-0"), external.callsTo("commit"), "names of a restored writer carry its checkpoint");
        assertEquals(List.of("0"), external.callsTo("abortLingering"), "at unchanged parallelism lingering ones go too");
        assertEquals(List.of("recoverAndCommit t0-0-0", "recoverAndAbort t0-0-1", "abortLingering 0", "begin t0-5-0"),
                external.calls.subList(0, 4), "recovery order");
    }

    @Test
    void aWriterRestoredWhileTheRestoredTransactionsCommitAbortsTheOpenOneFirstAndSweepsOnlyAfterTheCommits()
            throws Exception {
        TwoPhaseCommitWriter<String, String> writer = freshWriter(sink, 0, 1);
        writer.write("a");
        writer.prepareCommit(5);
        List<TransactionHolder<String>> writerState = writer.snapshotState(5);
        external.calls.clear();

        assertTrue(sink.restoresWhileCommitting(), "the runtime may restore this sink's writer during the commits");
        // the runtime's context: waiting for the restored commits is a step of its own here
        SinkInitContext whileCommitting = TestSinkContext.restored(0, 1, 5)
                .whenAwaitingRestoredCommits(() -> external.calls.add("awaitRestoredCommits"));
        restoredWriter(sink, whileCommitting, roundTrip(sink.getWriterStateSerializer(), writerState));

        assertEquals(List.of("recoverAndAbort t0-0-1", "awaitRestoredCommits", "abortLingering 0", "begin t0-5-0"),
                external.calls, "the open transaction is no committed one; the sweep and the next name come after the commits");
    }

    @Test
    void aRestoreAtAnotherParallelismAbortsEveryRestoredOpenTransactionButSweepsNothing() throws Exception {
        List<TransactionHolder<String>> committables = new ArrayList<>();
        List<TransactionHolder<String>> writerStates = new ArrayList<>();
        for (int subtask = 0; subtask < 2; subtask++) {
            TwoPhaseCommitWriter<String, String> writer = freshWriter(sink, subtask, 2);
            writer.write("from " + subtask);
            committables.addAll(writer.prepareCommit(3));
            writerStates.addAll(writer.snapshotState(3));
            writer.write("lost " + subtask);
        }
        external.calls.clear();

        TestSinkContext scaledIn = TestSinkContext.restored(0, 1, 3);
        assertAllCommitted(TrackedCommitRequest.commit(sink.createCommitter(scaledIn),
                roundTrip(sink.getCommittableSerializer(), committables)));
        restoredWriter(sink, scaledIn, roundTrip(sink.getWriterStateSerializer(), writerStates));

        assertEquals(List.of("from 0", "from 1"), external.visible());
        assertEquals(List.of("t0-0-1", "t1-0-1"), external.callsTo("recoverAndAbort"));
        assertEquals(List.of(), external.callsTo("abortLingering"),
                "another subtask might still hold a pre-committed transaction of this index");
        assertFalse(external.uncommitted.containsKey("t1-0-1"));
    }

    @Test
    void committingTwiceIsHarmless() throws Exception {
        TwoPhaseCommitWriter<String, String> writer = freshWriter(sink, 0, 1);
        Committer<TransactionHolder<String>> committer = sink.createCommitter(TestSinkContext.fresh(0, 1));
        writer.write("once");
        Collection<TransactionHolder<String>> checkpoint1 = writer.prepareCommit(1);
        Collection<TransactionHolder<String>> restoredCopy = roundTrip(sink.getCommittableSerializer(), checkpoint1);

        assertAllCommitted(TrackedCommitRequest.commit(committer, checkpoint1));
        List<TrackedCommitRequest<TransactionHolder<String>>> again = TrackedCommitRequest.commit(committer, checkpoint1);
        // committed, then crashed before the commit was forgotten: the restore commits it again
        List<TrackedCommitRequest<TransactionHolder<String>>> afterRestore = TrackedCommitRequest.commit(
                sink.createCommitter(TestSinkContext.restored(0, 1, 1)), restoredCopy);

        assertEquals(Outcome.ALREADY_COMMITTED, again.get(0).outcome());
        assertAllCommitted(afterRestore);
        assertEquals(List.of("t0-0-0"), external.callsTo("commit"), "the live one is not committed twice");
        assertEquals(List.of("t0-0-0"), external.callsTo("recoverAndCommit"));
        assertEquals(List.of("once"), external.visible());
    }

    @Test
    void aFailedCommitFailsTheJobHoweverOldTheTransaction() throws Exception {
        TwoPhaseCommitWriter<String, String> writer = freshWriter(sink, 0, 1);
        writer.write("x");
        Collection<TransactionHolder<String>> checkpoint1 = writer.prepareCommit(1);
        clock.advance(Duration.ofDays(1));
        external.commitFailure = new IllegalStateException("broker says no");

        List<TrackedCommitRequest<TransactionHolder<String>>> requests =
                TrackedCommitRequest.commit(sink.createCommitter(TestSinkContext.fresh(0, 1)), checkpoint1);

        assertEquals(Outcome.FAILED_UNKNOWN, requests.get(0).outcome());
        assertSame(external.commitFailure, requests.get(0).failure());
        assertEquals(TransactionState.PRE_COMMITTED, checkpoint1.iterator().next().state(), "to be retried after the restart");
        assertEquals(0, sink.getNumIgnoredCommitFailures());
    }

    @Test
    void withTheOptInAFailedCommitAfterTheTransactionTimeoutIsLoggedAndCountedNotFatal() throws Exception {
        TwoPhaseCommitSink<String, String> lenient = TwoPhaseCommitSink.builder(external).clock(clock)
                .ignoreFailuresAfterTransactionTimeout(Duration.ofMinutes(15)).build();
        TwoPhaseCommitWriter<String, String> writer = freshWriter(lenient, 0, 1);
        Committer<TransactionHolder<String>> committer = lenient.createCommitter(TestSinkContext.fresh(0, 1));
        clock.advance(Duration.ofMinutes(30)); // an old empty transaction: age counts from the first record
        writer.write("first");
        Collection<TransactionHolder<String>> first = writer.prepareCommit(1);
        writer.write("second");
        Collection<TransactionHolder<String>> second = writer.prepareCommit(2);
        external.commitFailure = new IllegalStateException("transaction timed out on the server");

        clock.advance(Duration.ofMinutes(14));
        List<TrackedCommitRequest<TransactionHolder<String>>> withinTimeout = TrackedCommitRequest.commit(committer, first);
        clock.advance(Duration.ofMinutes(2));
        String log = captureStandardError(() -> {
            List<TrackedCommitRequest<TransactionHolder<String>>> afterTimeout = TrackedCommitRequest.commit(committer, second);
            assertEquals(Outcome.FAILED_KNOWN, afterTimeout.get(0).outcome());
        });

        assertEquals(Outcome.FAILED_UNKNOWN, withinTimeout.get(0).outcome(), "within the timeout it still fails the job");
        assertEquals(1, lenient.getNumIgnoredCommitFailures());
        assertEquals(0, sink.getNumIgnoredCommitFailures(), "counted per sink");
        assertTrue(log.contains("ERROR") && log.contains("POSSIBLE DATA LOSS") && log.contains("t0-0-1"), log);
        assertEquals(TransactionState.ABORTED, second.iterator().next().state());
    }

    @Test
    void closeAbortsTheOpenTransactionButNoPreCommittedOne() throws Exception {
        TwoPhaseCommitWriter<String, String> writer = freshWriter(sink, 0, 1);
        writer.write("pre-committed");
        Collection<TransactionHolder<String>> checkpoint1 = writer.prepareCommit(1);
        writer.write("open");

        writer.close();

        assertEquals(List.of("t0-0-1"), external.callsTo("abort"));
        assertEquals(TransactionState.PRE_COMMITTED, checkpoint1.iterator().next().state());
        assertAllCommitted(TrackedCommitRequest.commit(sink.createCommitter(TestSinkContext.fresh(0, 1)), checkpoint1));
        assertEquals(List.of("pre-committed"), external.visible());
    }

    @Test
    void aFreshWriterAbortsLingeringTransactionsBeforeBeginning() throws Exception {
        freshWriter(sink, 1, 2);

        assertEquals(List.of("abortLingering 1", "begin t1-0-0"), external.calls);
    }

    @Test
    void checkpointedTransactionsComeBackMarkedRecoveredAndCommittedOnesNeverGoIntoACheckpoint() throws Exception {
        TwoPhaseCommitWriter<String, String> writer = freshWriter(sink, 0, 1);
        writer.write("a");
        TransactionHolder<String> txn = writer.prepareCommit(9).iterator().next();
        clock.advance(Duration.ofSeconds(1));

        TransactionHolder<String> copy = roundTrip(sink.getCommittableSerializer(), List.of(txn)).get(0);
        assertTrue(copy.isRecovered());
        assertFalse(txn.isRecovered());
        assertEquals(txn.toString().replace(")", ", recovered)"), copy.toString());
        assertEquals(txn.startedAtMillis(), copy.startedAtMillis());

        TrackedCommitRequest.commit(sink.createCommitter(TestSinkContext.fresh(0, 1)), List.of(txn));
        assertThrows(IllegalStateException.class, () -> sink.getCommittableSerializer().serialize(txn));
    }

    @Test
    void theBuilderRejectsNonsense() {
        TwoPhaseCommitSink.Builder<String, String> builder = TwoPhaseCommitSink.builder(external);
        assertThrows(NullPointerException.class, () -> TwoPhaseCommitSink.builder(null));
        assertThrows(IllegalArgumentException.class, () -> builder.ignoreFailuresAfterTransactionTimeout(Duration.ZERO));
        assertThrows(IllegalArgumentException.class,
                () -> builder.ignoreFailuresAfterTransactionTimeout(Duration.ofSeconds(-1)));
        builder.ignoreFailuresAfterTransactionTimeout(Duration.ofMinutes(1));
        IllegalStateException twice = assertThrows(IllegalStateException.class,
                () -> builder.ignoreFailuresAfterTransactionTimeout(Duration.ofMinutes(2)));
        assertTrue(twice.getMessage().contains("already set to PT1M"), twice.getMessage());
    }

    @Test
    void aTransactionTimeoutNotLongerThanTheCheckpointIntervalIsRejectedBeforeTheJobRuns() {
        TwoPhaseCommitSink<String, String> tooShort = TwoPhaseCommitSink.builder(external)
                .ignoreFailuresAfterTransactionTimeout(Duration.ofSeconds(10)).build();
        CheckpointConfig checkpoints = new CheckpointConfig();
        checkpoints.setCheckpointInterval(Duration.ofSeconds(10));

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> tooShort.validate(validationContext(checkpoints)));

        assertTrue(e.getMessage().contains("PT10S is not longer than the checkpoint interval"), e.getMessage());
        checkpoints.setCheckpointInterval(Duration.ofSeconds(5));
        tooShort.validate(validationContext(checkpoints));
        sink.validate(validationContext(checkpoints));
    }

    // ------------------------------------------------------------------ helpers

    private static ValidatesConfiguration.Context validationContext(CheckpointConfig checkpoints) {
        return ValidationContext.of("job", "sink", checkpoints);
    }

    @SuppressWarnings("unchecked")
    static <IN, TXN> TwoPhaseCommitWriter<IN, TXN> freshWriter(TwoPhaseCommitSink<IN, TXN> sink, int subtask,
                                                               int parallelism) throws Exception {
        return (TwoPhaseCommitWriter<IN, TXN>) sink.createWriter(TestSinkContext.fresh(subtask, parallelism));
    }

    static <IN, TXN> TwoPhaseCommitWriter<IN, TXN> restoredWriter(TwoPhaseCommitSink<IN, TXN> sink,
                                                                  SinkInitContext context,
                                                                  List<TransactionHolder<TXN>> state) throws Exception {
        return (TwoPhaseCommitWriter<IN, TXN>) sink.restoreWriter(context, state);
    }

    /** What a restore reads back: each object through its checkpoint form. */
    static <T> List<T> roundTrip(VersionedSerializer<T> serializer, Collection<T> values) throws Exception {
        List<T> copies = new ArrayList<>();
        for (T v : values) {
            copies.add(serializer.deserialize(serializer.getVersion(), serializer.serialize(v)));
        }
        return copies;
    }

    private static void assertAllCommitted(List<? extends TrackedCommitRequest<?>> requests) {
        for (TrackedCommitRequest<?> r : requests) {
            assertEquals(Outcome.COMMITTED, r.outcome(), () -> "request " + r.getCommittable() + ": " + r.failure());
        }
    }

    interface ThrowingRunnable {
        void run() throws Exception;
    }

    /** slf4j-simple writes to whatever {@code System.err} is at the time of logging. */
    private static String captureStandardError(ThrowingRunnable action) throws Exception {
        PrintStream original = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            action.run();
        } finally {
            System.setErr(original);
        }
        return captured.toString(StandardCharsets.UTF_8);
    }
}
