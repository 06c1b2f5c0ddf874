package io.onceflow.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.testing.CommittedStore;
import io.onceflow.testing.SequenceChecker;
import io.onceflow.testing.ChildJvm;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the keyed running count in a child JVM with file-system checkpoints, kills it with SIGKILL at
 * random moments, starts it again on the same directories each time, and finally lets it finish: the
 * committed output, read back from the files alone, must hold every key's counts exactly once.
 */
class KillDashNineTest {

    private static final long TOTAL = 120_000;
    private static final int KEYS = 300;
    private static final int KILLS = 6;

    @TempDir
    Path dir;

    private Process start(Path log) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = List.of(java, "-Xmx256m", "-cp", System.getProperty("java.class.path"),
                CountJobMain.class.getName(), dir.resolve("checkpoints").toString(), dir.resolve("out").toString(),
                Long.toString(TOTAL), Integer.toString(KEYS), "2", "2000");
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .start();
    }

    @Test
    void killedAtRandomMomentsAndRestartedTheOutputIsExact() throws Exception {
        Path log = dir.resolve("child.log");
        CommittedStore output = CommittedStore.inDirectory(dir.resolve("out"));
        Random random = new Random(42);
        List<Integer> committedAtKill = new ArrayList<>();
        for (int i = 0; i < KILLS; i++) {
            int before = output.readAll().size();
            Process p = start(log);
            // kill at a random moment after this run committed output of its own: every run passed a checkpoint
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (output.readAll().size() <= before && p.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            long wait = random.nextInt(600);
            boolean exited = p.waitFor(wait, TimeUnit.MILLISECONDS);
            assertTrue(!exited, "run " + i + " ended before it was killed (exit " + (exited ? p.exitValue() : 0)
                    + "); see " + log + ":\n" + ChildJvm.tail(log));
            p.destroyForcibly();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS));
            assertEquals(137, p.exitValue(), "killed with SIGKILL");
            committedAtKill.add(output.readAll().size());
        }
        Process last = start(log);
        assertTrue(last.waitFor(120, TimeUnit.SECONDS), "the last run did not finish:\n" + ChildJvm.tail(log));
        assertEquals(0, last.exitValue(), "the last run failed:\n" + ChildJvm.tail(log));

        long resumed = Files.readAllLines(log).stream().filter(l -> l.contains("resumes from checkpoint")).count();
        assertTrue(resumed >= KILLS - 1, "restarted processes resumed from a checkpoint only " + resumed + " times");
        assertTrue(committedAtKill.get(KILLS - 1) > committedAtKill.get(0),
                "runs between kills made progress: " + committedAtKill);
        assertTrue(committedAtKill.get(KILLS - 1) < TOTAL, "the kills hit before the end: " + committedAtKill);
        SequenceChecker.Result result = SequenceChecker.check(output.readAll(), SequenceChecker.expectedForSequence(TOTAL, KEYS));
        assertTrue(result.exact(), "after " + KILLS + " kill -9: " + result);
        assertEquals(TOTAL, result.records());
    }
}
