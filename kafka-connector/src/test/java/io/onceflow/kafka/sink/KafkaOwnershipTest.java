package io.onceflow.kafka.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.kafka.testing.KafkaTestCluster;
import io.onceflow.testing.SequenceChecker;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two processes on one checkpoint directory: a second start is refused while the owner lives, and a
 * stopped-but-alive zombie (SIGSTOP) that a new instance took over is fenced when it wakes (SIGCONT):
 * its commits fail, it stops, and the read_committed output stays exact.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class KafkaOwnershipTest {

    @RegisterExtension
    static final KafkaTestCluster kafka = new KafkaTestCluster();

    private static final int TOTAL = 300_000;
    private static final int KEYS = 500;

    @TempDir
    Path dir;

    private Process start(String input, String output, Path log, String... extra) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx384m", "-Dslf4j.provider=org.slf4j.simple.SimpleServiceProvider",
                "-Dorg.slf4j.simpleLogger.log.org.apache.kafka=warn", "-cp", System.getProperty("java.class.path"),
                KafkaCountJobMain.class.getName(), kafka.bootstrapServers(), input, output,
                dir.resolve("checkpoints").toString(), "2"));
        cmd.addAll(List.of(extra));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    private static void signal(Process p, String signal) throws Exception {
        Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(p.pid())).inheritIO().start();
        assertEquals(0, kill.waitFor(), "kill -" + signal);
    }

    private static void awaitMoreOutput(String output, long than, Process p, Path log) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (Pipelines.committedCount(kafka, output) <= than) {
            assertTrue(p.isAlive(), "the job ended early:\n" + Files.readString(log));
            assertTrue(System.nanoTime() < deadline, "no output within 90 s:\n" + Files.readString(log));
            Thread.sleep(50);
        }
    }

    @Test
    void aZombieWokenAfterATakeOverIsFencedAndTheOutputStaysExact() throws Exception {
        String input = Pipelines.createTopic(kafka, "in", 4);
        String output = Pipelines.createTopic(kafka, "out", 4);
        Map<String, Long> expected = Pipelines.writeWords(kafka, input, TOTAL, KEYS);
        Path zombieLog = dir.resolve("zombie.log");
        Process zombie = start(input, output, zombieLog);
        try {
            awaitMoreOutput(output, 0, zombie, zombieLog);

            Path refusedLog = dir.resolve("refused.log");
            Process refused = start(input, output, refusedLog);
            assertTrue(refused.waitFor(60, TimeUnit.SECONDS));
            assertNotEquals(0, refused.exitValue());
            String why = Files.readString(refusedLog);
            assertTrue(why.contains("is already running") && why.contains("pid " + zombie.pid()), why);

            signal(zombie, "STOP");
            long atStop = Pipelines.committedCount(kafka, output);
            Path takerLog = dir.resolve("taker.log");
            Process taker = start(input, output, takerLog, "take-over");
            awaitMoreOutput(output, atStop, taker, takerLog);
            signal(zombie, "CONT");

            assertTrue(zombie.waitFor(90, TimeUnit.SECONDS), "the woken zombie stops:\n" + Files.readString(zombieLog));
            assertNotEquals(0, zombie.exitValue());
            String zombieSaid = Files.readString(zombieLog);
            assertTrue(zombieSaid.contains("Another instance took this job over"), zombieSaid);
            assertTrue(taker.waitFor(180, TimeUnit.SECONDS), "the new owner finishes:\n" + Files.readString(takerLog));
            assertEquals(0, taker.exitValue(), Files.readString(takerLog));
        } finally {
            zombie.destroyForcibly();
        }
        SequenceChecker.Result result = SequenceChecker.check(Pipelines.readCommitted(kafka, output), expected);
        assertTrue(result.exact() && result.records() == TOTAL, "zombie and new owner together: " + result);
        Pipelines.assertMarkersVisible(kafka, output);
    }
}
