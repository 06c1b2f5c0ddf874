package io.onceflow.twophase.file;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.JobMetrics;
import io.onceflow.api.JobStatus;
import io.onceflow.api.NonRecoverableException;
import io.onceflow.api.RestartStrategies;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.api.functions.MapFunction;
import io.onceflow.runtime.fault.FaultInjector;
import io.onceflow.runtime.fault.FaultPoint;
import io.onceflow.testing.InjectedFailure;
import io.onceflow.testing.RunningCount;
import io.onceflow.testing.SequenceChecker;
import io.onceflow.testing.SequenceSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Whole jobs: a replayable sequence source, a keyed running count, and the transactional file sink,
 * failing on purpose at the dangerous moments of checkpoints. The committed files, read back from the
 * directory alone, must hold every key's counts exactly once: {@code 1, 2, …, n}.
 */
class TransactionalFileSinkJobTest {

    private static final int KEYS = 200;
    private static final int SPLITS = 4;
    private static final Pattern COMMITTED_NAME = Pattern.compile("sink-(\\d+)-(\\d+)\\.txt");

    @TempDir
    Path dir;

    @ParameterizedTest(name = "parallelism {0}, seed {1}")
    @CsvSource({"2, 1", "3, 2"})
    void everyCountIsCommittedExactlyOnceThroughFailuresAtEveryDangerousMoment(int parallelism, long seed)
            throws Exception {
        long total = 6_000;
        String job = "file-sink-" + parallelism + "-" + seed;
        PlannedFaults faults = PlannedFaults.shuffled(seed).register(job);

        JobMetrics metrics = runCountJob(job, parallelism, total, faults, PlannedFaults.failingIdentity(job));

        assertEquals(JobStatus.FINISHED, metrics.status());
        assertEquals(faults.plan().size(), faults.fired().size(),
                "every planned failure happened: planned " + faults.plan() + ", fired " + faults.fired());
        assertTrue(metrics.numRestarts() >= 1 && metrics.numRestarts() <= faults.fired().size(),
                "restarts " + metrics.numRestarts() + " for failures " + faults.fired());
        assertExactlyOnce(total, parallelism);
    }

    /**
     * The job fails after checkpoint X is complete but before any sink heard of it: the pre-committed
     * files of X exist only as hidden in-progress files. After the restart they must be committed,
     * byte for byte, under X's name; nothing is lost or doubled.
     */
    @Test
    void aTransactionPreCommittedForACheckpointThatCompletedIsCommittedAfterTheRestart() throws Exception {
        long total = 3_000;
        CrashBeforeNotify crash = new CrashBeforeNotify(dir);

        JobMetrics metrics = runCountJob("file-sink-crash-before-notify", 2, total, crash, new Identity());

        assertEquals(1, metrics.numRestarts());
        long x = crash.crashedAt;
        assertTrue(x >= 3, "crashed at checkpoint " + x);
        assertEquals(List.of(), crash.committedAtCrash, "nothing of checkpoint " + x + " was committed at the crash");
        List<Path> committedForX = CommittedFiles.committed(dir).stream()
                .filter(f -> f.getFileName().toString().endsWith("-" + x + ".txt")).toList();
        assertFalse(committedForX.isEmpty(), "checkpoint " + x + " had records and they were committed after the restart");
        for (Path f : committedForX) {
            String content = CommittedFiles.content(f);
            assertTrue(crash.preCommittedAtCrash.containsValue(content),
                    f + " is not one of the files that were pre-committed at the crash: " + crash.preCommittedAtCrash.keySet());
        }
        assertExactlyOnce(total, 2);
    }

    /**
     * The same crash, and one of the pre-committed files of X changed on disk before the restart (one byte, the
     * same length): the restart's commit reads it whole, refuses it and stops the job, and nothing of it appears.
     */
    @Test
    void aPreCommittedFileChangedBeforeTheRestartIsNotCommittedAndTheJobStops() throws Exception {
        CrashBeforeNotify crash = new CrashBeforeNotify(dir, true);

        Exception e = assertThrows(Exception.class,
                () -> runCountJob("file-sink-damaged", 2, 3_000, crash, new Identity()));

        assertTrue(NonRecoverableException.isIn(e), "stops at once instead of restarting: " + e);
        String message = NonRecoverableException.find(e).getMessage();
        assertTrue(message.contains(crash.damaged.toString()) && message.contains("was changed on disk after its "
                + "pre-commit") && message.contains("none of its records is published"), message);
        String committedName = crash.damaged.getFileName().toString().replaceFirst("^\\.(sink-\\d+)-.*",
                "$1-" + crash.crashedAt + ".txt");
        assertFalse(Files.exists(dir.resolve(committedName)), committedName + " was not published");
        assertTrue(Files.exists(crash.damaged), "the damaged file is left for a look");
    }

    @Test
    void twoFileSinksThatWouldWriteTheSameFilesAreRejectedBeforeTheJobRuns() {
        StreamEnvironment env = StreamEnvironment.create();
        var words = env.fromSource(SequenceSource.bounded(1, 10, 2), "sequence").uid("source");
        words.sinkTo(TransactionalFileSink.builder(dir, (String s) -> s).filePrefix("words").build()).uid("first");
        words.sinkTo(TransactionalFileSink.builder(dir, (String s) -> s).filePrefix("words").build()).uid("second");

        IllegalStateException e = assertThrows(IllegalStateException.class, () -> env.executeAsync("clash"));

        assertTrue(e.getMessage().contains("'first' and 'second'") && e.getMessage().contains("filePrefix"), e.getMessage());
    }

    @Test
    void anOperatorUidThatCannotNameFilesIsRejectedBeforeTheJobRuns() {
        StreamEnvironment env = StreamEnvironment.create();
        env.fromSource(SequenceSource.bounded(1, 10, 2), "sequence").uid("source")
                .sinkTo(TransactionalFileSink.builder(dir, (String s) -> s).build()).uid("out/put");

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> env.executeAsync("bad-uid"));

        assertTrue(e.getMessage().contains("'out/put'") && e.getMessage().contains("filePrefix"), e.getMessage());
    }

    private JobMetrics runCountJob(String job, int parallelism, long total, FaultInjector faults,
                                   MapFunction<String, String> beforeSink) throws Exception {
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(parallelism);
        env.enableCheckpointing(Duration.ofMillis(40));
        env.getCheckpointConfig().setCheckpointStorage("memory:"); // repeats output only after a process restart
        env.setRestartStrategy(RestartStrategies.fixedDelay(100, Duration.ZERO));
        env.setFaultInjector(faults);
        // about 2.5 s of input, so that failures land in the middle of the run
        int perSecondPerSplit = (int) (total / SPLITS / 2.5);
        env.fromSource(SequenceSource.bounded(SPLITS, total, KEYS).throttled(perSecondPerSplit), "sequence").uid("source")
                .keyBy(w -> w)
                .process(new RunningCount()).uid("count")
                .map(beforeSink).uid("before-sink")
                .sinkTo(TransactionalFileSink.builder(dir, (String line) -> line).build()).uid("sink");
        return env.execute(job);
    }

    private void assertExactlyOnce(long total, int parallelism) {
        SequenceChecker.Result result = SequenceChecker.check(CommittedFiles.lines(dir),
                SequenceChecker.expectedForSequence(total, KEYS));
        assertTrue(result.exact(), "committed output is not exact: " + result);
        assertEquals(total, result.records());
        assertEquals(List.of(), CommittedFiles.inProgress(dir), "uncommitted transactions left behind");
        for (Path f : CommittedFiles.committed(dir)) {
            var m = COMMITTED_NAME.matcher(f.getFileName().toString());
            assertTrue(m.matches() && Integer.parseInt(m.group(1)) < parallelism, "unexpected file " + f);
        }
    }

    private record Identity() implements MapFunction<String, String> {
        @Override
        public String map(String value) {
            return value;
        }
    }

    /**
     * Remembers, at each sink subtask's snapshot, its in-progress files (the sink thread is inside the
     * fault point, so they are stable: the pre-committed ones are complete and the new transaction has
     * no file yet); then fails once, right after the first checkpoint from 3 on for which some sink
     * subtask had such a file. Before that failure no checkpoint fails, and a task handles the
     * "complete" of checkpoint n - 1 before barrier n (mail goes first), so the files seen at the
     * snapshot of n are exactly the transactions pre-committed for n.
     */
    private static final class CrashBeforeNotify implements FaultInjector {
        private final Path dir;
        private final boolean damage;
        private final Map<Long, Map<String, String>> inProgressAtSnapshot = new ConcurrentHashMap<>();
        volatile long crashedAt = -1;
        volatile List<Path> committedAtCrash;
        volatile Map<String, String> preCommittedAtCrash;
        /** With {@code damage}: the pre-committed file whose first byte was changed at the crash. */
        volatile Path damaged;

        CrashBeforeNotify(Path dir) {
            this(dir, false);
        }

        CrashBeforeNotify(Path dir, boolean damage) {
            this.dir = dir;
            this.damage = damage;
        }

        @Override
        public void at(FaultPoint point, String operatorUid, int subtask, long checkpointId) {
            if (crashedAt >= 0) {
                return;
            }
            if (point == FaultPoint.AFTER_SNAPSHOT && "sink".equals(operatorUid)) {
                Map<String, String> files = inProgressAtSnapshot.computeIfAbsent(checkpointId, id -> new ConcurrentHashMap<>());
                for (Path f : CommittedFiles.inProgress(dir)) {
                    if (f.getFileName().toString().startsWith(".sink-" + subtask + "-")) {
                        files.put(f.getFileName().toString(), CommittedFiles.content(f));
                    }
                }
            } else if (point == FaultPoint.AFTER_CHECKPOINT_COMPLETE_BEFORE_NOTIFY && checkpointId >= 3
                    && !inProgressAtSnapshot.getOrDefault(checkpointId, Map.of()).isEmpty()) {
                committedAtCrash = new ArrayList<>(CommittedFiles.committed(dir).stream()
                        .filter(f -> f.getFileName().toString().endsWith("-" + checkpointId + ".txt")).toList());
                preCommittedAtCrash = Map.copyOf(inProgressAtSnapshot.get(checkpointId));
                crashedAt = checkpointId;
                if (damage) {
                    damaged = dir.resolve(preCommittedAtCrash.keySet().iterator().next());
                    try {
                        byte[] bytes = Files.readAllBytes(damaged);
                        bytes[0] = (byte) (bytes[0] == 'x' ? 'y' : 'x');
                        Files.write(damaged, bytes);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }
                throw new InjectedFailure("injected failure after checkpoint " + checkpointId
                        + " completed, before the sinks were notified");
            }
        }
    }
}
