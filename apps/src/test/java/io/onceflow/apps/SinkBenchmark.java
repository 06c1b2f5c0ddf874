package io.onceflow.apps;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.onceflow.api.RestartStrategies;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.api.serialization.Serializers;
import io.onceflow.api.sink.Sink;
import io.onceflow.runtime.fault.FaultPoint;
import io.onceflow.sinks.jdbc.JdbcUpsertSink;
import io.onceflow.sinks.redis.RedisSink;
import io.onceflow.sinks.redis.RedisWrite;
import io.onceflow.testing.RunningCount;
import io.onceflow.testing.SequenceSource;
import io.onceflow.testing.TestDatabase;
import io.onceflow.twophase.jdbc.JdbcXaSink;
import io.onceflow.wal.jdbc.JdbcWriteAheadSink;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Every database sink against a plain client loop into the same server, in one run: a keyed running count
 * over a bounded sequence (parallelism 2, 1 s checkpoints, file checkpoint storage) into PostgreSQL,
 * MariaDB and Redis, each sink mode, against a plain batched JDBC insert loop (one connection, batches of
 * 1,000 rows, a commit per batch) and a plain pipelined Redis SET loop writing the same number of rows.
 * Each run's output is checked (row count, or the counts' sum) before its figure is printed.
 * Records/s are of input records: the upsert and Redis sinks write each key's newest value once per batch,
 * the write-ahead and XA sinks (and the plain loops) one row per record.
 *
 * <p>Latency is from a checkpoint completing to its rows being visible (the commit of the write-ahead
 * batch or of the prepared transaction); the upsert and Redis sinks make their rows visible at the
 * barrier, before the checkpoint completes.
 *
 * <p>Run (after {@code mvn -q -B install -DskipTests}): {@code mvn -q -pl apps exec:java
 * -Dexec.classpathScope=test -Dexec.mainClass=io.onceflow.apps.SinkBenchmark [-Dexec.args="RECORDS"]}
 * (default 2,000,000 records over 1,000 keys; the latency run is 500,000 records at 50,000 records/s).
 */
public final class SinkBenchmark {
    private static final int KEYS = 1000;

    private record Row(String target, String system, long records, double seconds, double baselinePerSecond,
                       List<Long> latencyMillis, String note) {
        double perSecond() {
            return records / seconds;
        }
    }

    private SinkBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        long records = args.length > 0 ? Long.parseLong(args[0]) : 2_000_000;
        Path dir = Files.createTempDirectory("onceflow-sink-bench");
        List<Row> rows = new ArrayList<>();
        for (TestDatabase db : TestDatabase.values()) {
            double base = plainInsertLoop(db, records);
            rows.add(new Row(db.name(), "plain batched JDBC insert loop", records, records / base, base, List.of(), "baseline"));
            rows.add(job(db.name(), "JdbcUpsertSink (upsert)", dir, records, base, table -> {
                db.createCountsTable(table);
                return JdbcUpsertSink.<String>builder().setJdbcUrl(db.url()).setUsername(db.user()).setPassword(db.password())
                        .setTable(table).setColumns("word", "count").setKeyColumns("word").setVersionColumn("count")
                        .setRowMapper(line -> new Object[] {word(line), count(line)}).build();
            }, (table) -> sumOfCounts(db, table), db));
            rows.add(job(db.name(), "JdbcWriteAheadSink (write-ahead)", dir, records, base, table -> {
                db.execute("CREATE TABLE " + table + " (word VARCHAR(200) NOT NULL, n BIGINT NOT NULL)");
                return JdbcWriteAheadSink.builder(Serializers.STRING).setJdbcUrl(db.url()).setUsername(db.user())
                        .setPassword(db.password()).setSql("INSERT INTO " + table + " (word, n) VALUES (?, ?)")
                        .setStatementBuilder((ps, line) -> {
                            ps.setString(1, word(line));
                            ps.setLong(2, count(line));
                        }).setCommitTable(table + "_commits").build();
            }, (table) -> rowCount(db, table), db));
            if (canPrepare(db)) {
                rows.add(job(db.name(), "JdbcXaSink (xa)", dir, records, base, table -> {
                    db.execute("CREATE TABLE " + table + " (word VARCHAR(200) NOT NULL, n BIGINT NOT NULL)");
                    return JdbcXaSink.<String>builder().setJdbcUrl(db.url()).setUsername(db.user()).setPassword(db.password())
                            .setSql("INSERT INTO " + table + " (word, n) VALUES (?, ?)")
                            .setStatementFiller((ps, line) -> {
                                ps.setString(1, word(line));
                                ps.setLong(2, count(line));
                            }).build();
                }, (table) -> rowCount(db, table), db));
            } else {
                rows.add(new Row(db.name(), "JdbcXaSink (xa)", 0, 0, base, List.of(), "not run: max_prepared_transactions = 0"));
            }
        }
        String redisUrl = System.getProperty("onceflow.test.redis.url", "redis://127.0.0.1:6379");
        double base = plainRedisLoop(redisUrl, records);
        rows.add(new Row("Redis", "plain pipelined SET loop", records, records / base, base, List.of(), "baseline"));
        String prefix = "sinkbench-" + System.nanoTime() + ":";
        rows.add(job("Redis", "RedisSink (versioned SET)", dir, records, base, table -> RedisSink.<String>builder()
                .setRedisUri(redisUrl)
                .setMapper(line -> RedisWrite.set(prefix + word(line), Long.toString(count(line))).withVersion(count(line)))
                .build(), table -> redisSum(redisUrl, prefix), null));
        print(rows, records);
    }

    private static String word(String line) {
        return line.substring(0, line.lastIndexOf(','));
    }

    private static long count(String line) {
        return Long.parseLong(line.substring(line.lastIndexOf(',') + 1));
    }

    /** Rows/s of one connection inserting {@code records} (word, n) rows in batches of 1,000, a commit per batch. */
    private static double plainInsertLoop(TestDatabase db, long records) throws Exception {
        String table = TestDatabase.freshTableName("bench_plain");
        db.execute("CREATE TABLE " + table + " (word VARCHAR(200) NOT NULL, n BIGINT NOT NULL)");
        try (Connection c = db.connect()) {
            c.setAutoCommit(false);
            long start = System.nanoTime();
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + table + " (word, n) VALUES (?, ?)")) {
                for (long i = 0; i < records; i++) {
                    ps.setString(1, "key-" + (i % KEYS));
                    ps.setLong(2, i / KEYS + 1);
                    ps.addBatch();
                    if ((i + 1) % 1000 == 0) {
                        ps.executeBatch();
                        c.commit();
                    }
                }
                ps.executeBatch();
                c.commit();
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            check(rowCount(db, table), records, db + " plain loop");
            return records / seconds;
        } finally {
            db.drop(table);
        }
    }

    private static double plainRedisLoop(String url, long records) {
        RedisClient client = RedisClient.create();
        String prefix = "sinkbench-plain-" + System.nanoTime() + ":";
        try (StatefulRedisConnection<String, String> c = client.connect(RedisURI.create(url))) {
            c.setAutoFlushCommands(false);
            long start = System.nanoTime();
            List<RedisFuture<String>> replies = new ArrayList<>();
            for (long i = 0; i < records; i++) {
                replies.add(c.async().set(prefix + "key-" + (i % KEYS), Long.toString(i / KEYS + 1)));
                if (replies.size() == 1000) {
                    c.flushCommands();
                    replies.forEach(RedisFuture::toCompletableFuture);
                    for (RedisFuture<String> f : replies) {
                        f.toCompletableFuture().join();
                    }
                    replies.clear();
                }
            }
            c.flushCommands();
            for (RedisFuture<String> f : replies) {
                f.toCompletableFuture().join();
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            c.setAutoFlushCommands(true);
            for (String k : c.sync().keys(prefix + "*")) {
                c.sync().del(k);
            }
            return records / seconds;
        } finally {
            client.shutdown();
        }
    }

    @FunctionalInterface
    private interface SinkFactory {
        Sink<String> create(String table) throws Exception;
    }

    @FunctionalInterface
    private interface Check {
        long measure(String table) throws Exception;
    }

    /** Records per second per split of the latency run: 50,000 records/s in all, one batch of ~50,000 per checkpoint. */
    private static final int LATENCY_RATE = 25_000;
    private static final long LATENCY_RECORDS = 500_000;

    /** The throughput of an unthrottled run, and the latency of a run at a steady {@link #LATENCY_RATE}. */
    private static Row job(String target, String system, Path dir, long records, double base, SinkFactory sinkFactory,
                           Check check, TestDatabase db) throws Exception {
        Row throughput = run(target, system, dir, records, 0, base, sinkFactory, check, db);
        Row latency = run(target, system, dir, LATENCY_RECORDS, LATENCY_RATE, base, sinkFactory, check, db);
        return new Row(target, system, records, throughput.seconds(), base, latency.latencyMillis(), "");
    }

    private static Row run(String target, String system, Path dir, long records, int rate, double base,
                           SinkFactory sinkFactory, Check check, TestDatabase db) throws Exception {
        String table = TestDatabase.freshTableName("bench");
        Map<Long, Long> completed = new ConcurrentHashMap<>();
        List<Long> latencies = Collections.synchronizedList(new ArrayList<>());
        try {
            Sink<String> sink = sinkFactory.create(table);
            StreamEnvironment env = StreamEnvironment.create();
            env.setParallelism(2);
            env.enableCheckpointing(Duration.ofSeconds(1));
            env.getCheckpointConfig().setCheckpointStorage(dir.resolve(table).toUri().toString());
            env.setRestartStrategy(RestartStrategies.noRestart());
            SequenceSource source = SequenceSource.bounded(2, records, KEYS);
            env.fromSource(rate > 0 ? source.throttled(rate) : source, "sequence").uid("source")
                    .keyBy(w -> w)
                    .process(new RunningCount()).uid("count")
                    .sinkTo(sink).uid("sink");
            env.setFaultInjector((point, uid, subtask, checkpointId) -> {
                if (point == FaultPoint.AFTER_CHECKPOINT_COMPLETE_BEFORE_NOTIFY) {
                    completed.put(checkpointId, System.nanoTime());
                } else if (point == FaultPoint.AFTER_COMMIT && completed.containsKey(checkpointId)) {
                    latencies.add((System.nanoTime() - completed.get(checkpointId)) / 1_000_000);
                }
            });
            long start = System.nanoTime();
            env.execute("sink-bench-" + table);
            double seconds = (System.nanoTime() - start) / 1e9;
            long measured = check.measure(table);
            check(measured, system.contains("upsert") || system.contains("Redis") ? expectedSum(records) : records,
                    target + " " + system);
            return new Row(target, system, records, seconds, base, latencies, "");
        } finally {
            if (db != null) {
                db.drop(table);
                db.drop(table + "_commits");
            }
        }
    }

    /** The sum of every key's final count: every record counted once. */
    private static long expectedSum(long records) {
        return records;
    }

    private static void check(long actual, long expected, String what) {
        if (actual != expected) {
            throw new IllegalStateException(what + ": " + actual + " instead of " + expected + "; the figures would not count");
        }
    }

    private static boolean canPrepare(TestDatabase db) throws Exception {
        if (db != TestDatabase.POSTGRESQL) {
            return true;
        }
        try (Connection c = db.connect(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SHOW max_prepared_transactions")) {
            rs.next();
            return Integer.parseInt(rs.getString(1)) > 0;
        }
    }

    private static long rowCount(TestDatabase db, String table) throws Exception {
        try (Connection c = db.connect(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM " + table)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static long sumOfCounts(TestDatabase db, String table) throws Exception {
        try (Connection c = db.connect(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT SUM(count) FROM " + table)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static long redisSum(String url, String prefix) {
        RedisClient client = RedisClient.create();
        try (StatefulRedisConnection<String, String> c = client.connect(RedisURI.create(url))) {
            long sum = 0;
            for (String k : c.sync().keys(prefix + "*")) {
                if (!k.endsWith(":version")) {
                    sum += Long.parseLong(c.sync().get(k));
                }
                c.sync().del(k);
            }
            return sum;
        } finally {
            client.shutdown();
        }
    }

    private static void print(List<Row> rows, long records) {
        System.out.printf(Locale.ROOT, "%nSinks: %,d records over %,d keys, parallelism 2, 1 s checkpoints, unthrottled "
                + "(records/s of input: the upsert and Redis sinks write only each key's newest value per batch); "
                + "visible after: from a checkpoint completing to its rows being committed, in a run at %,d records/s; "
                + "each output checked%n%n", records, KEYS, 2 * LATENCY_RATE);
        System.out.printf(Locale.ROOT, "| %-10s | %-34s | %12s | %9s | %16s | %-34s |%n", "target", "system", "records/s",
                "vs plain", "visible after", "");
        System.out.println("| --- | --- | ---: | ---: | ---: | --- |");
        for (Row r : rows) {
            if (r.records() == 0) {
                System.out.printf(Locale.ROOT, "| %-10s | %-34s | %12s | %9s | %16s | %-34s |%n", r.target(), r.system(),
                        "-", "-", "-", r.note());
                continue;
            }
            String latency;
            if (r.note().equals("baseline")) {
                latency = "-";
            } else if (r.latencyMillis().isEmpty()) {
                latency = "at the barrier";
            } else {
                List<Long> sorted = new ArrayList<>(r.latencyMillis());
                Collections.sort(sorted);
                latency = "p50 " + sorted.get(sorted.size() / 2) + " ms, p99 " + sorted.get((int) Math.min(sorted.size() - 1,
                        Math.ceil(sorted.size() * 0.99) - 1)) + " ms";
            }
            System.out.printf(Locale.ROOT, "| %-10s | %-34s | %,12.0f | %8.2fx | %16s | %-34s |%n", r.target(), r.system(),
                    r.perSecond(), r.perSecond() / r.baselinePerSecond(), latency, r.note());
        }
    }
}
