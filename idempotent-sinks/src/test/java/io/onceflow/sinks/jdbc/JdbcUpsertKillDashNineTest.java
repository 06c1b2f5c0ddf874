package io.onceflow.sinks.jdbc;

import io.onceflow.kafka.broker.Topics;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.kafka.testing.KafkaTestCluster;
import io.onceflow.kafka.testing.TestInput;
import io.onceflow.testing.ChildJvm;
import io.onceflow.testing.KillDashNine;
import io.onceflow.testing.TestDatabase;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Kafka → keyed running count → JDBC upsert in a child JVM, killed with SIGKILL five times at random
 * moments and started again on its checkpoints, then left to finish: the table, read back with plain
 * SQL, must hold every word's exact final count. Replays rewrite rows the killed runs had written; the
 * version guard keeps them from ever going back to an older count.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class JdbcUpsertKillDashNineTest {

    @RegisterExtension
    static final KafkaTestCluster kafka = new KafkaTestCluster();

    private static final int KILLS = 5;
    private static final int TOTAL = 300_000;
    private static final int KEYS = 500;

    @TempDir
    Path dir;

    /** The job's child JVM now running, killed when the test ends however it ends. */
    private Process running;

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void killedAtRandomMomentsTheTableEndsExact(TestDatabase db) throws Exception {
        String input = "upsert-in-" + UUID.randomUUID().toString().substring(0, 8);
        try (Admin admin = kafka.createAdmin()) {
            Topics.create(admin, 4, input);
        }
        Map<String, Long> expected = writeWords(input);
        String table = TestDatabase.freshTableName("killed");
        db.createCountsTable(table);
        Path log = dir.resolve("child.log");
        Random random = new Random(11);
        List<Long> writtenAtKill = new ArrayList<>();
        try {
            for (int i = 0; i < KILLS; i++) {
                // at a random moment after this run wrote rows of its own
                KillDashNine.killAfterProgress(() -> start(db, input, table, log), () -> total(db.readCounts(table)),
                        random, 1000, "run " + i, () -> ChildJvm.tail(log));
                writtenAtKill.add(total(db.readCounts(table)));
            }
            System.out.println(db + ": sum of the counts in the table at each kill: " + writtenAtKill);
            Process last = start(db, input, table, log);
            assertTrue(last.waitFor(180, TimeUnit.SECONDS), "the last run did not finish:\n" + ChildJvm.tail(log));
            assertEquals(0, last.exitValue(), "the last run failed:\n" + ChildJvm.tail(log));

            Map<String, Long> actual = db.readCounts(table);
            assertEquals(expected.size(), actual.size(), "one row per word");
            List<String> wrong = new ArrayList<>();
            expected.forEach((word, n) -> {
                if (!n.equals(actual.get(word))) {
                    wrong.add(word + ": " + actual.get(word) + " instead of " + n);
                }
            });
            assertTrue(wrong.isEmpty(), wrong.size() + " wrong count(s), e.g. " + wrong.subList(0, Math.min(10, wrong.size())));
        } finally {
            if (running != null && running.isAlive()) {
                running.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            }
            db.drop(table);
        }
    }

    private static long total(Map<String, Long> counts) {
        return counts.values().stream().mapToLong(Long::longValue).sum();
    }

    private Process start(TestDatabase db, String input, String table, Path log) throws Exception {
        running = ChildJvm.of(UpsertJobMain.class, List.of("-Xmx256m", "-Dslf4j.provider=org.slf4j.simple.SimpleServiceProvider",
                        "-Dorg.slf4j.simpleLogger.log.org.apache.kafka=warn", "-Dorg.slf4j.simpleLogger.showDateTime=true"),
                        kafka.bootstrapServers(), input, dir.resolve("checkpoints").toString(), db.name(), table)
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        return running;
    }

    /**
     * Writes {@code TOTAL} words "w(i % KEYS)" and returns how often each occurs in the topic, read back
     * (see {@link TestInput}: a send that failed is made again, and may then land twice).
     */
    private static Map<String, Long> writeWords(String topic) {
        try (TestInput input = TestInput.to(kafka.bootstrapServers())) {
            for (int i = 0; i < TOTAL; i++) {
                input.send(topic, "w" + (i % KEYS));
            }
        }
        return TestInput.wordCounts(TestInput.readAll(kafka.bootstrapServers(), topic, Duration.ofSeconds(60)));
    }
}
