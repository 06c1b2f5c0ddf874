package io.onceflow.sinks.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.CheckpointConfig;
import io.onceflow.api.JobMetrics;
import io.onceflow.api.JobStatus;
import io.onceflow.api.NonRecoverableException;
import io.onceflow.api.RestartStrategies;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.api.ValidatesConfiguration;
import io.onceflow.api.metrics.MetricGroup;
import io.onceflow.api.sink.SinkWriter;
import io.onceflow.testing.RunningCount;
import io.onceflow.testing.SequenceChecker;
import io.onceflow.testing.SequenceSource;
import io.onceflow.testing.TestDatabase;
import io.onceflow.testing.ValidationContext;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The JDBC upsert sink on the real PostgreSQL and MariaDB servers. */
class JdbcUpsertSinkTest {

    private static final long TOTAL = 20_000;
    private static final int KEYS = 300;

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void aJobLeavesExactRunningCountsInTheTable(TestDatabase db) throws Exception {
        String table = TestDatabase.freshTableName("counts");
        db.createCountsTable(table);
        try {
            StreamEnvironment env = StreamEnvironment.create();
            env.setParallelism(2);
            env.enableCheckpointing(Duration.ofMillis(50));
            env.getCheckpointConfig().setCheckpointStorage("memory:");
            env.setRestartStrategy(RestartStrategies.noRestart());
            env.fromSource(SequenceSource.bounded(4, TOTAL, KEYS).throttled(20_000), "sequence").uid("source")
                    .keyBy(w -> w)
                    .process(new RunningCount()).uid("count")
                    .sinkTo(CountsTable.sink(db, table).setVersionColumn("count").setBatchSize(100).build()).uid("upsert");
            JobMetrics metrics = env.execute("upsert-" + table);
            assertEquals(JobStatus.FINISHED, metrics.status());
            assertTrue(metrics.numberOfCompletedCheckpoints() > 2, "the rows went in over several checkpoints");

            Map<String, Long> expected = SequenceChecker.expectedForSequence(TOTAL, KEYS);
            assertEquals(expected, db.readCounts(table), "every key's final count, read back with plain SQL");
        } finally {
            db.drop(table);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void theVersionGuardNeverWritesAnOlderValueOverANewerOne(TestDatabase db) throws Exception {
        String guarded = TestDatabase.freshTableName("guarded");
        String plain = TestDatabase.freshTableName("plain");
        db.createCountsTable(guarded);
        db.createCountsTable(plain);
        try {
            MetricGroup metrics = MetricGroup.unregistered();
            try (SinkWriter<String> g = CountsTable.sink(db, guarded).setVersionColumn("count").build()
                    .createWriter(TestContexts.context(metrics));
                 SinkWriter<String> p = CountsTable.sink(db, plain).build().createWriter(TestContexts.context(metrics))) {
                for (SinkWriter<String> w : java.util.List.of(g, p)) {
                    w.write("a,5");
                    w.write("b,1");
                    w.flush(false);
                    // a replay: older values of a, one newer value of b; within one batch too
                    w.write("a,3");
                    w.write("b,4");
                    w.write("b,2");
                    w.flush(false);
                }
            }
            assertEquals(Map.of("a", 5L, "b", 4L), db.readCounts(guarded), "guarded: only newer versions win");
            assertEquals(Map.of("a", 3L, "b", 2L), db.readCounts(plain), "unguarded: the last write wins");
        } finally {
            db.drop(guarded);
            db.drop(plain);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void aRowTheDatabaseRefusesStopsTheJobNamingItWithoutRetrying(TestDatabase db) throws Exception {
        String table = TestDatabase.freshTableName("checked");
        db.execute("CREATE TABLE " + table + " (word VARCHAR(200) NOT NULL PRIMARY KEY, count BIGINT NOT NULL "
                + "CHECK (count < 50))");
        try {
            MetricGroup metrics = MetricGroup.unregistered();
            try (SinkWriter<String> w = CountsTable.sink(db, table).build().createWriter(TestContexts.context(metrics))) {
                w.write("a,1");
                w.write("b,99");
                w.write("c,2");
                NonRecoverableException e = assertThrows(NonRecoverableException.class, () -> w.flush(false));
                assertTrue(e.getMessage().contains("(word=b, count=99) of record b,99"), e.getMessage());
                assertTrue(e.getMessage().contains("SQLState 23"), "a constraint violation: " + e.getMessage());
            }
            assertEquals(0, metrics.counter("writeRetries").getCount(), "a constraint error is not retried");
            assertEquals(Map.of(), db.readCounts(table), "the batch was rolled back as a whole");
        } finally {
            db.drop(table);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void aLockTimeoutIsRetriedUntilTheLockIsGone(TestDatabase db) throws Exception {
        String table = TestDatabase.freshTableName("locked");
        db.createCountsTable(table);
        db.execute("INSERT INTO " + table + " (word, count) VALUES ('a', 1)");
        try (Connection holder = db.connect()) {
            holder.setAutoCommit(false);
            try (Statement s = holder.createStatement()) {
                s.executeUpdate("UPDATE " + table + " SET count = 2 WHERE word = 'a'"); // holds the row lock
            }
            MetricGroup metrics = MetricGroup.unregistered();
            JdbcUpsertSink.Builder<String> sink = CountsTable.sink(db, table).setRetryBackoff(Duration.ofMillis(200),
                    Duration.ofMillis(400)).setMaxRetries(20);
            if (db == TestDatabase.POSTGRESQL) {
                sink.setProperty("options", "-c lock_timeout=300");
            } else {
                sink.setProperty("sessionVariables", "innodb_lock_wait_timeout=1");
            }
            CompletableFuture<Void> release = CompletableFuture.runAsync(() -> {
                try {
                    while (metrics.counter("writeRetries").getCount() == 0) {
                        Thread.sleep(20);
                    }
                    holder.commit();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            try (SinkWriter<String> w = sink.build().createWriter(TestContexts.context(metrics))) {
                w.write("a,7");
                w.flush(false);
            }
            release.get(30, TimeUnit.SECONDS);
            assertTrue(metrics.counter("writeRetries").getCount() >= 1, "the lock timeout was retried");
        }
        try {
            assertEquals(Map.of("a", 7L), db.readCounts(table));
        } finally {
            db.drop(table);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void theStartRefusesAMissingTableAndATableWithoutTheKey(TestDatabase db) {
        String missing = TestDatabase.freshTableName("missing");
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> CountsTable.sink(db, missing).build().validate(context()));
        assertTrue(e.getMessage().contains("table " + missing + " with columns [word, count] cannot be read"), e.getMessage());

        String keyless = TestDatabase.freshTableName("keyless");
        db.execute("CREATE TABLE " + keyless + " (word VARCHAR(200) NOT NULL, count BIGINT NOT NULL)");
        try {
            e = assertThrows(IllegalStateException.class, () -> CountsTable.sink(db, keyless).build().validate(context()));
            assertTrue(e.getMessage().contains("no primary key or unique index on exactly [word]"), e.getMessage());
        } finally {
            db.drop(keyless);
        }

        String created = TestDatabase.freshTableName("created");
        try {
            CountsTable.sink(db, created).setCreateTableIfMissing("CREATE TABLE " + created
                    + " (word VARCHAR(200) NOT NULL PRIMARY KEY, count BIGINT NOT NULL)").build().validate(context());
            assertEquals(Map.of(), db.readCounts(created), "the DDL created the table");
        } catch (Exception ex) {
            throw new AssertionError(ex);
        } finally {
            db.drop(created);
        }
    }

    @Test
    void aServerThatDoesNotAnswerIsNamedAtStart() {
        JdbcUpsertSink<String> sink = JdbcUpsertSink.<String>builder().setJdbcUrl("jdbc:postgresql://127.0.0.1:1/test")
                .setUsername("postgres").setTable("t").setColumns("word", "count").setKeyColumns("word")
                .setRowMapper(l -> new Object[] {l, 1}).build();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> sink.validate(context()));
        assertTrue(e.getMessage().contains("cannot connect to jdbc:postgresql://127.0.0.1:1/test as user 'postgres'")
                && e.getMessage().contains("Is the database server running"), e.getMessage());
    }

    @Test
    void aWrongConfigurationIsReportedWhole() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> JdbcUpsertSink.<String>builder()
                .setJdbcUrl("jdbc:sqlserver://x").setTable("t; DROP TABLE x").setColumns("word", "count")
                .setKeyColumns("id").setVersionColumn("word").build());
        String m = e.getMessage();
        assertTrue(m.contains("of no database the upsert sink knows") && m.contains("plain (optionally schema-qualified) name")
                && m.contains("key columns [id] must be among the columns") && m.contains("no row mapper"), m);
    }

    @Test
    void eachDialectSpellsItsUpsert() {
        assertEquals("INSERT INTO t (word, count) VALUES (?, ?) ON CONFLICT (word) DO UPDATE SET count = EXCLUDED.count"
                + " WHERE t.count IS NULL OR t.count < EXCLUDED.count",
                SqlDialect.POSTGRESQL.upsert("t", java.util.List.of("word", "count"), java.util.List.of("word"), "count"));
        assertEquals("INSERT INTO t (word, n, v) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE "
                + "n = IF((v IS NULL OR VALUES(v) > v), VALUES(n), n), v = IF((v IS NULL OR VALUES(v) > v), VALUES(v), v)",
                SqlDialect.MYSQL.upsert("t", java.util.List.of("word", "n", "v"), java.util.List.of("word"), "v"));
        assertEquals(SqlDialect.MYSQL, SqlDialect.of("jdbc:mysql://h/db"));
    }

    private static ValidatesConfiguration.Context context() {
        return ValidationContext.of("test", "upsert", new CheckpointConfig());
    }
}
