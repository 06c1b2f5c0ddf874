package io.onceflow.twophase.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.JobMetrics;
import io.onceflow.api.RestartStrategies;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.runtime.fault.FaultPoint;
import io.onceflow.runtime.storage.MemoryCheckpointStorage;
import io.onceflow.testing.ChildJvm;
import io.onceflow.testing.FailingCheckpointStorage;
import io.onceflow.testing.InjectedFailure;
import io.onceflow.testing.KillDashNine;
import io.onceflow.testing.RunningCount;
import io.onceflow.testing.SequenceChecker;
import io.onceflow.testing.SequenceSource;
import io.onceflow.testing.TestDatabase;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The XA sink on the real MariaDB (prepared transactions work out of the box) and PostgreSQL (only with
 * {@code max_prepared_transactions > 0}): running counts appended to a table with no unique key, through
 * crashes at the dangerous moments and real {@code kill -9}, checked with plain SQL.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class JdbcXaSinkTest {

    private static final long TOTAL = 30_000;
    private static final int KEYS = 200;

    @TempDir
    Path dir;

    private Process running;

    static JdbcXaSink<String> appendOnlySink(TestDatabase db, String table) {
        return JdbcXaSink.<String>builder()
                .setJdbcUrl(db.url()).setUsername(db.user()).setPassword(db.password())
                .setSql("INSERT INTO " + table + " (word, n) VALUES (?, ?)")
                .setStatementFiller((ps, line) -> {
                    int comma = line.lastIndexOf(',');
                    ps.setString(1, line.substring(0, comma));
                    ps.setLong(2, Long.parseLong(line.substring(comma + 1)));
                })
                .setBatchSize(100)
                .build();
    }

    private static List<String> rows(TestDatabase db, String table) throws Exception {
        List<String> rows = new ArrayList<>();
        try (Connection c = db.connect(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT word, n FROM " + table)) {
            while (rs.next()) {
                rows.add(rs.getString(1) + "," + rs.getLong(2));
            }
        }
        return rows;
    }

    /** The prepared transactions MariaDB still holds for a job's sink. */
    private static List<String> preparedOf(String job, String uid) throws Exception {
        List<String> left = new ArrayList<>();
        try (Connection c = TestDatabase.MARIADB.connect()) {
            for (String xid : XaDialect.MYSQL.prepared(c)) {
                if (xid.startsWith(XaTransactionHandler.prefix(job, uid, 0)) || xid.startsWith(XaTransactionHandler.prefix(job, uid, 1))) {
                    left.add(xid);
                }
            }
        }
        return left;
    }

    private static void rollBackPrepared(String job, String uid) throws Exception {
        try (Connection c = TestDatabase.MARIADB.connect()) {
            for (String xid : preparedOf(job, uid)) {
                XaDialect.MYSQL.rollbackPrepared(c, xid);
            }
        }
    }

    private static long rowCount(TestDatabase db, String table) throws Exception {
        try (Connection c = db.connect(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM " + table)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    @Test
    void mariaDbEndsExactThroughCrashesWithPreparedTransactionsOpen() throws Exception {
        TestDatabase db = TestDatabase.MARIADB;
        String table = TestDatabase.freshTableName("xa_rows");
        db.execute("CREATE TABLE " + table + " (word VARCHAR(200) NOT NULL, n BIGINT NOT NULL)");
        String job = "xa-faults-" + table;
        try {
            StreamEnvironment env = StreamEnvironment.create();
            env.setParallelism(2);
            env.enableCheckpointing(Duration.ofMillis(60));
            env.getCheckpointConfig().setCheckpointStorage(dir.resolve("checkpoints").toUri().toString());
            env.setRestartStrategy(RestartStrategies.fixedDelay(10, Duration.ZERO));
            env.fromSource(SequenceSource.bounded(4, TOTAL, KEYS).throttled(3_000), "sequence").uid("source")
                    .keyBy(w -> w)
                    .process(new RunningCount()).uid("count")
                    .sinkTo(appendOnlySink(db, table)).uid("xa");
            Set<FaultPoint> fired = ConcurrentHashMap.newKeySet();
            env.setFaultInjector((point, uid, subtask, checkpointId) -> {
                boolean fail = switch (point) {
                    // prepared, but the checkpoint never completes: rolled back at the restart
                    case AFTER_SNAPSHOT -> checkpointId == 4 && "xa".equals(uid);
                    // prepared and the checkpoint complete, not committed: committed at the restart
                    case AFTER_CHECKPOINT_COMPLETE_BEFORE_NOTIFY -> checkpointId == 9;
                    // committed: the restart's commit finds nothing to do
                    case AFTER_COMMIT -> checkpointId == 14 && "xa".equals(uid);
                    default -> false;
                };
                if (fail && fired.add(point)) {
                    throw new InjectedFailure(point + " at checkpoint " + checkpointId);
                }
            });
            JobMetrics metrics = env.execute(job);
            assertEquals(3, fired.size(), "every planned failure fired: " + fired);
            SequenceChecker.Result result = SequenceChecker.check(rows(db, table),
                    SequenceChecker.expectedForSequence(TOTAL, KEYS));
            assertTrue(result.exact(), "after " + metrics.numRestarts() + " restarts: " + result);
            assertEquals(List.of(), preparedOf(job, "xa"), "no prepared transaction is left behind");
        } finally {
            rollBackPrepared(job, "xa");
            db.drop(table);
        }
    }

    /**
     * Upserts of running counts: every checkpoint updates rows the previous checkpoint's prepared transaction
     * locked until its commit. Written at once, each subtask would wait on its own lock until MariaDB's lock
     * wait timeout failed the job; held until the barrier, they never wait. With room for only 5 records, a
     * subtask buffers on until the previous transaction is committed, then writes as they come.
     */
    @ParameterizedTest(name = "buffering up to {0} records")
    @ValueSource(ints = {100_000, 5})
    void keysUpdatedInEveryCheckpointDoNotWaitOnTheirOwnPreparedLocks(int maxBuffered) throws Exception {
        upsertCounts("xa-upsert", maxBuffered, env -> {
            env.setRestartStrategy(RestartStrategies.noRestart());
        }, metrics -> assertEquals(0, metrics.numRestarts(), "no write failed on a lock: " + metrics));
    }

    /**
     * A checkpoint that fails after the sinks prepared leaves transactions only a later checkpoint could
     * commit, while that checkpoint's upserts would wait on their locks: the job restarts instead, at once,
     * and the restart rolls them back (before, every statement of the next checkpoint waited out MariaDB's
     * 50 s lock wait timeout, one after the other).
     */
    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void aCheckpointFailingAfterThePrepareRestartsTheJobInsteadOfWaitingOnItsLocks() throws Exception {
        FailingCheckpointStorage storage = FailingCheckpointStorage.wrap(new MemoryCheckpointStorage())
                .failMetadataOf(id -> id == 5);
        upsertCounts("xa-failed", 100_000, env -> {
            env.getCheckpointConfig().setCheckpointStorage(storage);
            env.getCheckpointConfig().setTolerableCheckpointFailureNumber(2);
            env.setRestartStrategy(RestartStrategies.fixedDelay(3, Duration.ZERO));
        }, metrics -> {
            assertEquals(1, storage.injectedFailures());
            assertEquals(1, metrics.numRestarts(), "checkpoint 5 failed after the prepare: one restart, " + metrics);
        });
    }

    @Test
    void moreThanOneCheckpointAtATimeIsRefused() {
        StreamEnvironment env = StreamEnvironment.create();
        env.enableCheckpointing(Duration.ofMillis(50));
        env.getCheckpointConfig().setMaxConcurrentCheckpoints(2);
        env.getCheckpointConfig().setCheckpointStorage("memory:");
        env.fromSource(SequenceSource.bounded(1, 10, 2), "sequence").uid("source")
                .sinkTo(appendOnlySink(TestDatabase.MARIADB, "never_written")).uid("xa");
        Exception e = assertThrows(Exception.class, () -> env.execute("xa-concurrent"));
        assertTrue(e.getMessage().contains("needs one checkpoint at a time")
                && e.getMessage().contains("setMaxConcurrentCheckpoints"), e.getMessage());
    }

    /** The running counts of 20 keys upserted through the XA sink at parallelism 2, checked against the table. */
    private void upsertCounts(String name, int maxBuffered, java.util.function.Consumer<StreamEnvironment> configure,
                              java.util.function.Consumer<JobMetrics> check) throws Exception {
        TestDatabase db = TestDatabase.MARIADB;
        String table = TestDatabase.freshTableName(name.replace('-', '_'));
        String job = name + "-" + table;
        db.createCountsTable(table);
        try {
            StreamEnvironment env = StreamEnvironment.create();
            env.setParallelism(2);
            env.enableCheckpointing(Duration.ofMillis(50));
            env.getCheckpointConfig().setCheckpointStorage(dir.resolve("checkpoints").toUri().toString());
            configure.accept(env);
            env.fromSource(SequenceSource.bounded(4, TOTAL, 20).throttled(3_000), "sequence").uid("source")
                    .keyBy(w -> w)
                    .process(new RunningCount()).uid("count")
                    .sinkTo(JdbcXaSink.<String>builder()
                            .setJdbcUrl(db.url()).setUsername(db.user()).setPassword(db.password())
                            .setSql("INSERT INTO " + table + " (word, count) VALUES (?, ?) ON DUPLICATE KEY UPDATE count = VALUES(count)")
                            .setStatementFiller((ps, line) -> {
                                int comma = line.lastIndexOf(',');
                                ps.setString(1, line.substring(0, comma));
                                ps.setLong(2, Long.parseLong(line.substring(comma + 1)));
                            })
                            .setBatchSize(10)
                            .setMaxBufferedRecords(maxBuffered)
                            .build()).uid("xa");
            JobMetrics metrics = env.execute(job);
            check.accept(metrics);
            assertEquals(SequenceChecker.expectedForSequence(TOTAL, 20), db.readCounts(table));
            assertEquals(List.of(), preparedOf(job, "xa"), "no prepared transaction is left behind");
        } finally {
            rollBackPrepared(job, "xa"); // after a failure, so that the table can be dropped
            db.drop(table);
        }
    }

    @Test
    void mariaDbEndsExactAfterKillDashNine() throws Exception {
        TestDatabase db = TestDatabase.MARIADB;
        String table = TestDatabase.freshTableName("xa_killed");
        db.execute("CREATE TABLE " + table + " (word VARCHAR(200) NOT NULL, n BIGINT NOT NULL)");
        Path log = dir.resolve("child.log");
        Random random = new Random(29);
        long total = 60_000;
        List<Long> rowsAtKill = new ArrayList<>();
        try {
            for (int i = 0; i < 5; i++) {
                KillDashNine.killAfterProgress(() -> start(db, table, total, log), () -> rowCount(db, table), random, 1000,
                        "run " + i, () -> ChildJvm.tail(log));
                rowsAtKill.add(rowCount(db, table));
            }
            System.out.println("MariaDB XA: rows at each kill: " + rowsAtKill);
            Process last = start(db, table, total, log);
            assertTrue(last.waitFor(180, TimeUnit.SECONDS), "the last run did not finish:\n" + ChildJvm.tail(log));
            assertEquals(0, last.exitValue(), "the last run failed:\n" + ChildJvm.tail(log));
            SequenceChecker.Result result = SequenceChecker.check(rows(db, table),
                    SequenceChecker.expectedForSequence(total, KEYS));
            assertTrue(result.exact(), "after 5 kill -9: " + result);
            assertEquals(List.of(), preparedOf("xa-kill", "xa"), "no prepared transaction is left behind");
        } finally {
            if (running != null && running.isAlive()) {
                running.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            }
            rollBackPrepared("xa-kill", "xa");
            db.drop(table);
        }
    }

    @Test
    void postgresWithoutPreparedTransactionsIsRefusedSayingWhatToSet() throws Exception {
        TestDatabase db = TestDatabase.POSTGRESQL;
        int max;
        try (Connection c = db.connect(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SHOW max_prepared_transactions")) {
            rs.next();
            max = Integer.parseInt(rs.getString(1));
        }
        String table = TestDatabase.freshTableName("xa_pg");
        db.execute("CREATE TABLE " + table + " (word VARCHAR(200) NOT NULL, n BIGINT NOT NULL)");
        try {
            StreamEnvironment env = StreamEnvironment.create();
            env.setParallelism(2);
            env.enableCheckpointing(Duration.ofMillis(60));
            env.getCheckpointConfig().setCheckpointStorage(dir.resolve("checkpoints").toUri().toString());
            env.setRestartStrategy(RestartStrategies.noRestart());
            env.fromSource(SequenceSource.bounded(4, TOTAL, KEYS).throttled(10_000), "sequence").uid("source")
                    .keyBy(w -> w)
                    .process(new RunningCount()).uid("count")
                    .sinkTo(appendOnlySink(db, table)).uid("xa");
            if (max == 0) {
                Exception e = assertThrows(Exception.class, () -> env.execute("xa-pg"));
                assertTrue(e.getMessage().contains("max_prepared_transactions") && e.getMessage().contains("write-ahead"),
                        e.getMessage());
                assertEquals(0, rowCount(db, table));
            } else {
                // a server that prepares transactions: the same job is exact
                env.execute("xa-pg");
                SequenceChecker.Result result = SequenceChecker.check(rows(db, table),
                        SequenceChecker.expectedForSequence(TOTAL, KEYS));
                assertTrue(result.exact(), result.toString());
            }
        } finally {
            db.drop(table);
        }
    }

    private Process start(TestDatabase db, String table, long total, Path log) throws Exception {
        running = ChildJvm.of(XaJobMain.class, List.of("-Xmx256m", "-Dslf4j.provider=org.slf4j.simple.SimpleServiceProvider",
                        "-Dorg.slf4j.simpleLogger.showDateTime=true"),
                        dir.resolve("checkpoints").toString(), db.name(), table, Long.toString(total), Integer.toString(KEYS),
                        "4000")
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        return running;
    }
}
