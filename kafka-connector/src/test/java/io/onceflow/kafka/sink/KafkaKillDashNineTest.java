package io.onceflow.kafka.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.kafka.testing.KafkaTestCluster;
import io.onceflow.testing.KillDashNine;
import io.onceflow.testing.SequenceChecker;
import io.onceflow.testing.ChildJvm;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Kafka → count → Kafka pipeline in a child JVM, killed with SIGKILL at random moments and started
 * again on the same checkpoint directory, then left to finish: an independent read_committed consumer
 * must find every key's counts exactly once, every poison record (not UTF-8) exactly once in the
 * dead-letter topic, and no transaction left hanging.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class KafkaKillDashNineTest {

    @RegisterExtension
    static final KafkaTestCluster kafka = new KafkaTestCluster();

    private static final int KILLS = 5;
    private static final int TOTAL = 400_000;
    private static final int KEYS = 500;

    @TempDir
    Path dir;

    private Process start(String input, String output, String deadLetters, Path log) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = List.of(java, "-Xmx384m", "-Dslf4j.provider=org.slf4j.simple.SimpleServiceProvider",
                "-Dorg.slf4j.simpleLogger.log.org.apache.kafka=warn", "-Dorg.slf4j.simpleLogger.showDateTime=true",
                "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS", "-cp", System.getProperty("java.class.path"),
                KafkaCountJobMain.class.getName(), kafka.bootstrapServers(), input, output,
                dir.resolve("checkpoints").toString(), "2", "dead-letters=" + deadLetters);
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .start();
    }

    @Test
    void killedAtRandomMomentsTheOutputIsExact() throws Exception {
        String input = Pipelines.createTopic(kafka, "in", 4);
        String output = Pipelines.createTopic(kafka, "out", 4);
        String deadLetters = Pipelines.createTopic(kafka, "dlq", 2);
        Map<String, Integer> poison = new java.util.HashMap<>();
        Map<String, Long> expected = Pipelines.writeWordsWithPoison(kafka, input, TOTAL, KEYS, 499, poison);
        long goodRecords = expected.values().stream().mapToLong(Long::longValue).sum();
        Path log = dir.resolve("child.log");
        Random random = new Random(7);
        List<Integer> visibleAtKill = new ArrayList<>();
        for (int i = 0; i < KILLS; i++) {
            // at a random moment after this run committed output of its own
            KillDashNine.killAfterProgress(() -> start(input, output, deadLetters, log),
                    () -> Pipelines.committedCount(kafka, output), random, 1000, "run " + i, () -> ChildJvm.tail(log));
            visibleAtKill.add((int) Pipelines.committedCount(kafka, output));
        }
        System.out.println("committed offsets at each kill: " + visibleAtKill);
        Process last = start(input, output, deadLetters, log);
        assertTrue(last.waitFor(180, TimeUnit.SECONDS), "the last run did not finish:\n" + ChildJvm.tail(log));
        assertEquals(0, last.exitValue(), "the last run failed:\n" + ChildJvm.tail(log));

        assertTrue(visibleAtKill.get(0) > 0 && visibleAtKill.get(KILLS - 1) < goodRecords,
                "the kills hit mid-run: " + visibleAtKill + "\n" + ChildJvm.tail(log));
        long resumed = Files.readAllLines(log).stream().filter(l -> l.contains("resumes from checkpoint")).count();
        assertTrue(resumed >= KILLS - 1, "restarted processes resumed from checkpoints only " + resumed + " times");
        SequenceChecker.Result result = SequenceChecker.check(Pipelines.readCommitted(kafka, output), expected);
        assertTrue(result.exact(), "after " + KILLS + " kill -9 (committed at each kill: " + visibleAtKill + "): " + result);
        assertEquals(goodRecords, result.records());
        Pipelines.assertEachPoisonRecordOnce(kafka, deadLetters, input, poison);
        Pipelines.assertMarkersVisible(kafka, output);
        Pipelines.assertMarkersVisible(kafka, deadLetters);
    }
}
