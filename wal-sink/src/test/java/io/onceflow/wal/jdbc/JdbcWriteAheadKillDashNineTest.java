package io.onceflow.wal.jdbc;

import io.onceflow.kafka.broker.Topics;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.kafka.testing.KafkaTestCluster;
import io.onceflow.kafka.testing.TestInput;
import io.onceflow.testing.ChildJvm;
import io.onceflow.testing.KillDashNine;
import io.onceflow.testing.SequenceChecker;
import io.onceflow.testing.TestDatabase;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
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
 * A Kafka → keyed running count → JDBC write-ahead job in a child JVM, killed with {@code kill -9} five
 * times at random moments and restarted, appending one (word, n) row per word occurrence to a table with
 * no unique key: after the last run, plain SQL finds every word's rows 1..n exactly once. An idempotent
 * upsert could not make this table exact; only the batch and its commit row in one transaction can.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class JdbcWriteAheadKillDashNineTest {

    @RegisterExtension
    static final KafkaTestCluster kafka = new KafkaTestCluster();

    private static final int KILLS = 5;
    private static final int TOTAL = 200_000;
    private static final int KEYS = 500;

    @TempDir
    Path dir;

    /** The job's child JVM now running, killed when the test ends however it ends. */
    private Process running;

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void killedAtRandomMomentsTheAppendOnlyTableHoldsEveryRowOnce(TestDatabase db) throws Exception {
        String input = "wal-in-" + UUID.randomUUID().toString().substring(0, 8);
        try (Admin admin = kafka.createAdmin()) {
            Topics.create(admin, 4, input);
        }
        try (TestInput writer = TestInput.to(kafka.bootstrapServers())) {
            for (int i = 0; i < TOTAL; i++) {
                writer.send(input, "w" + (i % KEYS));
            }
        }
        Map<String, Long> expected = TestInput.wordCounts(TestInput.readAll(kafka.bootstrapServers(), input,
                Duration.ofSeconds(60)));
        String table = TestDatabase.freshTableName("wal_killed");
        String commits = TestDatabase.freshTableName("wal_commits");
        db.execute("CREATE TABLE " + table + " (word VARCHAR(200) NOT NULL, n BIGINT NOT NULL)");
        Path log = dir.resolve("child.log");
        Random random = new Random(17);
        List<Long> rowsAtKill = new ArrayList<>();
        try {
            for (int i = 0; i < KILLS; i++) {
                KillDashNine.killAfterProgress(() -> start(db, input, table, commits, log), () -> rowCount(db, table),
                        random, 1000, "run " + i, () -> ChildJvm.tail(log));
                rowsAtKill.add(rowCount(db, table));
            }
            System.out.println(db + ": rows in the append-only table at each kill: " + rowsAtKill);
            Process last = start(db, input, table, commits, log);
            assertTrue(last.waitFor(180, TimeUnit.SECONDS), "the last run did not finish:\n" + ChildJvm.tail(log));
            assertEquals(0, last.exitValue(), "the last run failed:\n" + ChildJvm.tail(log));

            SequenceChecker.Result result = SequenceChecker.check(JdbcWriteAheadSinkTest.rows(db, table), expected);
            assertTrue(result.exact(), db + " after " + KILLS + " kill -9: " + result);
            assertEquals(expected.values().stream().mapToLong(Long::longValue).sum(), result.records());
        } finally {
            if (running != null && running.isAlive()) {
                running.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            }
            db.drop(table);
            db.drop(commits);
        }
    }

    private static long rowCount(TestDatabase db, String table) throws Exception {
        try (Connection c = db.connect(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM " + table)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private Process start(TestDatabase db, String input, String table, String commits, Path log) throws Exception {
        running = ChildJvm.of(WalJobMain.class, List.of("-Xmx256m", "-Dslf4j.provider=org.slf4j.simple.SimpleServiceProvider",
                        "-Dorg.slf4j.simpleLogger.log.org.apache.kafka=warn", "-Dorg.slf4j.simpleLogger.showDateTime=true"),
                        kafka.bootstrapServers(), input, dir.resolve("checkpoints").toString(), db.name(), table, commits,
                        dir.resolve("spill").toString())
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        return running;
    }
}
