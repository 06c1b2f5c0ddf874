package io.onceflow.twophase.file;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.twophase.TwoPhaseCommitSink;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The file sink, run by the real sink operator, with a crash placed at every step of its life in
 * turn: just before and just after each begin, write, pre-commit, commit (its rename), abort and
 * recovery call; the crash either kills the process (objects abandoned) or fails the task (the
 * operator is closed first). After the restore from the last completed checkpoint and a replay of the
 * input from there, the committed files, read back from the directory alone, hold every record
 * exactly once and no in-progress file is left.
 */
class FileSinkCrashTest {

    private static final List<String> INPUT = IntStream.range(0, 12).mapToObj(i -> String.format("r%02d", i)).toList();
    private static final int EVERY = 3;

    @TempDir
    Path root;

    @Test
    void withoutACrashTheScenarioCommitsEverythingOnceAcrossSeveralFiles() throws Exception {
        Path dir = root.resolve("no-crash");
        CrashingHandler<String, FileTransaction> handler = crashing(dir, Set.of(), false);

        assertEquals(0, run(handler, false));

        assertExactlyOnce(dir, handler);
        // 1 completes; 2 and the empty 3 complete as 3; 4 never completes, 5 and the empty 6 complete as 6;
        // the final 7 finds an empty transaction, which is aborted
        assertEquals(List.of("out-0-1.txt", "out-0-2.txt", "out-0-4.txt", "out-0-5.txt"),
                CommittedFiles.committed(dir).stream().map(p -> p.getFileName().toString()).toList());
        for (String step : List.of("abortLingering", "begin", "write", "preCommit", "commit", "abort")) {
            assertTrue(handler.trace.stream().anyMatch(c -> c.matches("\\d+ " + step + " .*")), step + " in " + handler.trace);
        }
    }

    @ParameterizedTest(name = "crash {0} the call, {1}")
    @CsvSource({"before, process killed", "after, process killed", "before, task failed", "after, task failed"})
    void aCrashAtAnyStepLosesAndDuplicatesNothing(String when, String how) throws Exception {
        boolean after = when.equals("after");
        boolean closeAfterCrash = how.equals("task failed");
        int calls = callsWithoutCrash();
        for (int k = 0; k < calls; k++) {
            Path dir = root.resolve("crash-at-" + k);
            CrashingHandler<String, FileTransaction> handler = crashing(dir, Set.of(k), after);

            assertEquals(1, run(handler, closeAfterCrash), () -> "crashes, in " + handler.trace);

            assertExactlyOnce(dir, handler);
        }
    }

    @ParameterizedTest(name = "crash {0} the call")
    @ValueSource(strings = {"before", "after"})
    void aSecondCrashDuringTheRecoveryLosesAndDuplicatesNothing(String when) throws Exception {
        boolean after = when.equals("after");
        int calls = callsWithoutCrash();
        for (int k = 0; k < calls; k++) {
            for (int j = 1; j <= 4; j++) {
                Path dir = root.resolve("crash-at-" + k + "-and-" + (k + j));
                CrashingHandler<String, FileTransaction> handler = crashing(dir, Set.of(k, k + j), after);

                assertEquals(2, run(handler, false), () -> "crashes, in " + handler.trace);

                assertExactlyOnce(dir, handler);
            }
        }
    }

    private int callsWithoutCrash() throws Exception {
        CrashingHandler<String, FileTransaction> handler = crashing(root.resolve("reference"), Set.of(), false);
        run(handler, false);
        return handler.calls();
    }

    private static CrashingHandler<String, FileTransaction> crashing(Path dir, Set<Integer> at, boolean after) {
        return new CrashingHandler<>(new FileTransactionHandler<String>(dir, s -> s, "out"), at, after);
    }

    private static int run(CrashingHandler<String, FileTransaction> handler, boolean closeAfterCrash) throws Exception {
        TwoPhaseCommitSink<String, FileTransaction> sink = TwoPhaseCommitSink.builder(handler).build();
        return new SimulatedSubtask(() -> sink, INPUT, EVERY, closeAfterCrash).runToCompletion();
    }

    private static void assertExactlyOnce(Path dir, CrashingHandler<String, FileTransaction> handler) {
        List<String> committed = CommittedFiles.lines(dir).stream().sorted().toList();
        assertEquals(INPUT, committed, () -> "committed records, in " + handler.trace);
        assertEquals(List.of(), CommittedFiles.inProgress(dir), () -> "left behind, in " + handler.trace);
    }
}
