package io.onceflow.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.JobMetrics;
import io.onceflow.api.RestartStrategies;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.api.serialization.Serializers;
import io.onceflow.runtime.fault.FaultPoint;
import io.onceflow.testing.InjectedFailure;
import io.onceflow.testing.RunningCount;
import io.onceflow.testing.SequenceChecker;
import io.onceflow.testing.SequenceSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The write-ahead sink template in whole jobs: a keyed running count whose output goes through the log to
 * an "external system" that is a list in this JVM, judged by the list's content.
 */
class WriteAheadSinkTest {

    private static final long TOTAL = 30_000;
    private static final int KEYS = 200;

    /** The external systems of the tests: what each sender received, by test. */
    private static final Map<String, List<String>> RECEIVED = new ConcurrentHashMap<>();
    /** The checkpoints each test's coordinator completed, by test. */
    private static final Map<String, Set<Long>> COMPLETED = new ConcurrentHashMap<>();
    /** Checkpoints a sender was asked to send before they completed. */
    private static final Map<String, List<Long>> EARLY = new ConcurrentHashMap<>();

    @TempDir
    Path dir;

    private final String id = UUID.randomUUID().toString();

    private static WalSender.Factory<String> appendTo(String id) {
        return context -> (values, checkpointId, subtask) -> {
            if (!COMPLETED.get(id).contains(checkpointId)) {
                EARLY.get(id).add(checkpointId);
            }
            List<String> received = RECEIVED.get(id);
            List<String> batch = new ArrayList<>();
            values.forEach(batch::add);
            received.addAll(batch);
            return true;
        };
    }

    private StreamEnvironment countJob(WriteAheadSink<String> sink) {
        RECEIVED.put(id, Collections.synchronizedList(new ArrayList<>()));
        COMPLETED.put(id, ConcurrentHashMap.newKeySet());
        EARLY.put(id, Collections.synchronizedList(new ArrayList<>()));
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(2);
        env.enableCheckpointing(Duration.ofMillis(50));
        env.getCheckpointConfig().setCheckpointStorage(dir.resolve("checkpoints").toUri().toString());
        env.setRestartStrategy(RestartStrategies.fixedDelay(10, Duration.ZERO));
        env.fromSource(SequenceSource.bounded(4, TOTAL, KEYS).throttled(3_000), "sequence").uid("source")
                .keyBy(w -> w)
                .process(new RunningCount()).uid("count")
                .sinkTo(sink).uid("wal");
        return env;
    }

    private WriteAheadSink.Builder<String> sink() {
        return WriteAheadSink.builder(Serializers.STRING).setSpillDirectory(dir.resolve("spill")).setSender(appendTo(id));
    }

    @Test
    void exactThroughCrashesBeforeSendingDuringASnapshotAndAfterSending() throws Exception {
        StreamEnvironment env = countJob(sink().build());
        Set<FaultPoint> fired = ConcurrentHashMap.newKeySet();
        String test = id;
        env.setFaultInjector((point, uid, subtask, checkpointId) -> {
            if (point == FaultPoint.AFTER_CHECKPOINT_COMPLETE_BEFORE_NOTIFY) {
                COMPLETED.get(test).add(checkpointId);
            }
            boolean fail = switch (point) {
                // the batch is in checkpoint storage, but the checkpoint never completes
                case AFTER_SNAPSHOT -> checkpointId == 4 && "wal".equals(uid);
                // the checkpoint completed, nothing was sent yet
                case BEFORE_COMMIT -> checkpointId == 9 && "wal".equals(uid);
                // sent and recorded, the restart restores the checkpoint whose batch it was
                case AFTER_COMMIT -> checkpointId == 14 && "wal".equals(uid);
                default -> false;
            };
            if (fail && fired.add(point)) {
                throw new InjectedFailure(point + " at checkpoint " + checkpointId);
            }
        });
        JobMetrics metrics = env.execute("wal-faults");
        assertEquals(3, fired.size(), "every planned failure fired: " + fired);
        assertTrue(metrics.numRestarts() >= 3, metrics.toString());
        SequenceChecker.Result result = SequenceChecker.check(RECEIVED.get(id),
                SequenceChecker.expectedForSequence(TOTAL, KEYS));
        assertTrue(result.exact(), "after " + metrics.numRestarts() + " restarts: " + result);
        assertTrue(EARLY.get(id).isEmpty(), "batches sent before their checkpoint completed: " + EARLY.get(id));
        try (Stream<Path> spill = Files.list(dir.resolve("spill"))) {
            assertEquals(0, spill.count(), "no spill file is left behind");
        }
        // sent batches do not pile up in checkpoint storage: only those a retained checkpoint refers to stay
        io.onceflow.runtime.storage.JobCheckpointStore store =
                new io.onceflow.runtime.storage.FileSystemCheckpointStorage(dir.resolve("checkpoints")).forJob("wal-faults");
        assertEquals(1, store.completedCheckpointIds().size(), "one retained checkpoint");
        Set<String> referenced = store.loadLatestCompleted().orElseThrow().sharedPaths();
        store.discardUnreferencedSharedState();
        try (Stream<Path> files = Files.list(dir.resolve("checkpoints/wal-faults/shared"))) {
            List<String> left = files.map(p -> "shared/" + p.getFileName()).toList();
            // (the keyed count's incremental heap checkpoints keep their chains there too)
            long batches = left.stream().filter(f -> f.startsWith("shared/wal-")).count();
            assertTrue(referenced.containsAll(left) && batches <= 2, "batch files left: " + left);
        }
    }

    @Test
    void theGenericSinkSendsABatchAgainWhenTheCrashFallsBetweenSendingAndRecording() throws Exception {
        AtomicBoolean crashed = new AtomicBoolean();
        long[] crashedAt = {-1};
        CheckpointCommitter.Factory storage = CheckpointCommitter.inCheckpointStorage();
        CheckpointCommitter.Factory crashingOnce = context -> {
            CheckpointCommitter inner = storage.create(context);
            return new CheckpointCommitter() {
                @Override
                public boolean isCheckpointCommitted(int subtask, long checkpointId) throws Exception {
                    return inner.isCheckpointCommitted(subtask, checkpointId);
                }

                @Override
                public void commitCheckpoint(int subtask, long checkpointId) throws Exception {
                    if (checkpointId >= 6 && crashed.compareAndSet(false, true)) {
                        crashedAt[0] = checkpointId;
                        throw new InjectedFailure("crash after sending checkpoint " + checkpointId + " of subtask "
                                + subtask + ", before recording it");
                    }
                    inner.commitCheckpoint(subtask, checkpointId);
                }
            };
        };
        StreamEnvironment env = countJob(sink().setCheckpointCommitter(crashingOnce).build());
        String test = id;
        env.setFaultInjector((point, uid, subtask, checkpointId) -> {
            if (point == FaultPoint.AFTER_CHECKPOINT_COMPLETE_BEFORE_NOTIFY) {
                COMPLETED.get(test).add(checkpointId);
            }
        });
        env.execute("wal-window");
        assertTrue(crashed.get());
        SequenceChecker.Result result = SequenceChecker.check(RECEIVED.get(id),
                SequenceChecker.expectedForSequence(TOTAL, KEYS));
        // the window of the generic template: the batch sent just before the crash is sent again, nothing is lost
        assertEquals(0, result.lost(), result.toString());
        assertEquals(0, result.unexpected(), result.toString());
        assertTrue(result.duplicates() > 0, "the batch of checkpoint " + crashedAt[0] + " went out twice: " + result);
        assertFalse(result.exact());
    }

    @Test
    void aBatchChangedInStorageStopsTheJobBeforeAnyOfItIsSent() throws Exception {
        StreamEnvironment env = countJob(sink().build());
        String test = id;
        Path shared = dir.resolve("checkpoints/wal-damaged/shared");
        List<String> damaged = Collections.synchronizedList(new ArrayList<>());
        env.setFaultInjector((point, uid, subtask, checkpointId) -> {
            if (point != FaultPoint.AFTER_CHECKPOINT_COMPLETE_BEFORE_NOTIFY) {
                return;
            }
            COMPLETED.get(test).add(checkpointId);
            if (checkpointId < 5 || !damaged.isEmpty()) {
                return;
            }
            // the checkpoint is complete and its batches are about to be sent: a digit of a record in subtask 0's
            // batch changes in storage, which leaves a record that reads fine and is wrong
            try (Stream<Path> files = Files.list(shared)) {
                Path batch = files.filter(f -> f.getFileName().toString().startsWith("wal-wal-0-" + checkpointId + "-"))
                        .findFirst().orElse(null);
                if (batch != null) {
                    byte[] bytes = Files.readAllBytes(batch);
                    int digit = bytes.length / 2;
                    while (bytes[digit] < '0' || bytes[digit] > '8') {
                        digit++;
                    }
                    bytes[digit]++;
                    Files.write(batch, bytes);
                    damaged.add("shared/" + batch.getFileName());
                }
            }
        });
        Exception e = assertThrows(Exception.class, () -> env.execute("wal-damaged"));
        assertEquals(1, damaged.size());
        assertTrue(io.onceflow.api.NonRecoverableException.isIn(e), "stops at once instead of restarting: " + e);
        String message = causes(e);
        assertTrue(message.contains(damaged.get(0) + " in ") && message.contains("is damaged")
                && message.contains("None of its records was sent"), message);
        SequenceChecker.Result result = SequenceChecker.check(RECEIVED.get(id),
                SequenceChecker.expectedForSequence(TOTAL, KEYS));
        assertEquals(0, result.unexpected() + result.duplicates(), "no record read wrong was sent: " + result);
    }

    private static String causes(Throwable t) {
        StringBuilder all = new StringBuilder();
        for (; t != null; t = t.getCause()) {
            all.append(t.getMessage()).append(" | ");
        }
        return all.toString();
    }

    @Test
    void aJobWithoutCheckpointsIsRefusedBecauseNothingWouldEverBeSent() {
        RECEIVED.put(id, Collections.synchronizedList(new ArrayList<>()));
        StreamEnvironment env = StreamEnvironment.create();
        env.fromSource(SequenceSource.bounded(1, 10, 2), "sequence").uid("source").sinkTo(sink().build()).uid("wal");
        Exception e = assertThrows(Exception.class, () -> env.execute("wal-no-checkpoints"));
        String message = String.valueOf(e.getMessage()) + (e.getCause() != null ? e.getCause().getMessage() : "");
        assertTrue(message.contains("enableCheckpointing"), message);
    }

    @Test
    void theBuilderSaysWhatIsMissing() {
        IllegalStateException none = assertThrows(IllegalStateException.class,
                () -> WriteAheadSink.builder(Serializers.STRING).build());
        assertTrue(none.getMessage().contains("setSender") && none.getMessage().contains("setTransactionalSender"),
                none.getMessage());
    }
}
