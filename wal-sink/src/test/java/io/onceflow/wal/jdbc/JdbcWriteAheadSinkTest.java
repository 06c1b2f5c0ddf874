package io.onceflow.wal.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
import io.onceflow.testing.TestDatabase;
import io.onceflow.wal.WriteAheadSink;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The JDBC write-ahead sink on the real PostgreSQL and MariaDB: a running count appended to a table with no
 * unique key, through crashes at the dangerous moments, checked with plain SQL.
 */
class JdbcWriteAheadSinkTest {

    private static final long TOTAL = 30_000;
    private static final int KEYS = 200;

    /** Whether the statement builder of a test already failed once, by table. */
    private static final Map<String, AtomicBoolean> FAILED_MID_BATCH = new ConcurrentHashMap<>();

    @TempDir
    Path dir;

    static WriteAheadSink<String> appendOnlySink(TestDatabase db, String table, String commitTable, boolean failMidBatchOnce) {
        return JdbcWriteAheadSink.builder(Serializers.STRING)
                .setJdbcUrl(db.url()).setUsername(db.user()).setPassword(db.password())
                .setSql("INSERT INTO " + table + " (word, n) VALUES (?, ?)")
                .setStatementBuilder((ps, line) -> {
                    int comma = line.lastIndexOf(',');
                    long n = Long.parseLong(line.substring(comma + 1));
                    if (failMidBatchOnce && n == 60 && FAILED_MID_BATCH.get(table).compareAndSet(false, true)) {
                        // part of the batch is already in the transaction
                        throw new InjectedFailure("crash in the middle of the batch, at " + line);
                    }
                    ps.setString(1, line.substring(0, comma));
                    ps.setLong(2, n);
                })
                .setCommitTable(commitTable)
                .setBatchSize(100)
                .build();
    }

    static void createAppendOnlyTable(TestDatabase db, String table) {
        db.execute("CREATE TABLE " + table + " (word VARCHAR(200) NOT NULL, n BIGINT NOT NULL)");
    }

    /** Every row of an append-only (word, n) table as "word,n", read independently of the job. */
    static List<String> rows(TestDatabase db, String table) throws Exception {
        List<String> rows = new ArrayList<>();
        try (Connection c = db.connect(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT word, n FROM " + table)) {
            while (rs.next()) {
                rows.add(rs.getString(1) + "," + rs.getLong(2));
            }
        }
        return rows;
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void eachCheckpointsBatchLandsExactlyOnceThroughCrashesAtTheDangerousMoments(TestDatabase db) throws Exception {
        String table = TestDatabase.freshTableName("wal_rows");
        String commits = TestDatabase.freshTableName("wal_commits");
        FAILED_MID_BATCH.put(table, new AtomicBoolean());
        createAppendOnlyTable(db, table);
        try {
            StreamEnvironment env = StreamEnvironment.create();
            env.setParallelism(2);
            env.enableCheckpointing(Duration.ofMillis(60));
            env.getCheckpointConfig().setCheckpointStorage(dir.resolve("checkpoints").toUri().toString());
            env.setRestartStrategy(RestartStrategies.fixedDelay(10, Duration.ZERO));
            env.fromSource(SequenceSource.bounded(4, TOTAL, KEYS).throttled(3_000), "sequence").uid("source")
                    .keyBy(w -> w)
                    .process(new RunningCount()).uid("count")
                    .sinkTo(appendOnlySink(db, table, commits, true)).uid("wal");
            Set<FaultPoint> fired = ConcurrentHashMap.newKeySet();
            env.setFaultInjector((point, uid, subtask, checkpointId) -> {
                boolean fail = switch (point) {
                    case BEFORE_COMMIT -> checkpointId == 5 && "wal".equals(uid);
                    case AFTER_COMMIT -> checkpointId == 9 && "wal".equals(uid);
                    default -> false;
                };
                if (fail && fired.add(point)) {
                    throw new InjectedFailure(point + " at checkpoint " + checkpointId);
                }
            });
            String job = "wal-jdbc-" + table;
            JobMetrics metrics = env.execute(job);
            assertEquals(2, fired.size(), "every planned failure fired: " + fired);
            assertTrue(FAILED_MID_BATCH.get(table).get(), "the crash in the middle of a batch fired");
            assertTrue(metrics.numRestarts() >= 3, metrics.toString());

            SequenceChecker.Result result = SequenceChecker.check(rows(db, table),
                    SequenceChecker.expectedForSequence(TOTAL, KEYS));
            assertTrue(result.exact(), db + ", after " + metrics.numRestarts() + " restarts: " + result);
            try (Connection c = db.connect();
                 PreparedStatement ps = c.prepareStatement("SELECT COUNT(*), MIN(checkpoint_id) FROM " + commits
                         + " WHERE job_name = ? AND operator_uid = 'wal'")) {
                ps.setString(1, job);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    assertEquals(2, rs.getInt(1), "one commit row per writer subtask");
                    assertTrue(rs.getLong(2) > 9, "the rows hold the last checkpoints sent");
                }
            }
        } finally {
            db.drop(table);
            db.drop(commits);
        }
    }

    /**
     * A fresh start (new checkpoint directory) of a job that ran before counts its checkpoints from 1 again;
     * the commit rows of the earlier run must not make it skip its own batches as already sent.
     */
    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void aFreshStartOfAJobThatRanBeforeSendsEverything(TestDatabase db) throws Exception {
        String first = TestDatabase.freshTableName("wal_first");
        String second = TestDatabase.freshTableName("wal_second");
        String commits = TestDatabase.freshTableName("wal_commits");
        FAILED_MID_BATCH.put(first, new AtomicBoolean());
        FAILED_MID_BATCH.put(second, new AtomicBoolean());
        createAppendOnlyTable(db, first);
        createAppendOnlyTable(db, second);
        try {
            for (String table : List.of(first, second)) {
                StreamEnvironment env = StreamEnvironment.create();
                env.setParallelism(2);
                env.enableCheckpointing(Duration.ofMillis(50));
                env.getCheckpointConfig().setCheckpointStorage(dir.resolve("checkpoints-" + table).toUri().toString());
                env.fromSource(SequenceSource.bounded(4, 6_000, 50).throttled(3_000), "sequence").uid("source")
                        .keyBy(w -> w)
                        .process(new RunningCount()).uid("count")
                        .sinkTo(appendOnlySink(db, table, commits, false)).uid("wal");
                env.execute("wal-twice");
                SequenceChecker.Result result = SequenceChecker.check(rows(db, table),
                        SequenceChecker.expectedForSequence(6_000, 50));
                assertTrue(result.exact(), db + ", " + table + ": " + result);
            }
        } finally {
            db.drop(first);
            db.drop(second);
            db.drop(commits);
        }
    }

    @ParameterizedTest
    @EnumSource(TestDatabase.class)
    void aStatementTheDatabaseRefusesStopsTheStartNamingIt(TestDatabase db) {
        String missing = TestDatabase.freshTableName("missing");
        String commits = TestDatabase.freshTableName("wal_commits");
        try {
            StreamEnvironment env = StreamEnvironment.create();
            env.enableCheckpointing(Duration.ofMillis(100));
            env.getCheckpointConfig().setCheckpointStorage("memory:");
            env.setRestartStrategy(RestartStrategies.noRestart());
            env.fromSource(SequenceSource.bounded(1, 10, 2), "sequence").uid("source")
                    .sinkTo(appendOnlySink(db, missing, commits, false)).uid("wal");
            Exception e = assertThrows(Exception.class, () -> env.execute("wal-missing"));
            StringBuilder messages = new StringBuilder();
            for (Throwable t = e; t != null; t = t.getCause()) {
                messages.append(t.getMessage()).append('\n');
            }
            assertTrue(messages.toString().contains(missing) && messages.toString().contains("Create the table"),
                    messages.toString());
        } finally {
            db.drop(commits);
        }
    }
}
