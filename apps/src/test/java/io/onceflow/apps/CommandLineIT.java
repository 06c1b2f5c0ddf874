package io.onceflow.apps;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.kafka.broker.KafkaBrokerLauncher;
import io.onceflow.kafka.broker.RunningKafkaBroker;
import io.onceflow.kafka.audit.ExactlyOnceAudit;
import io.onceflow.kafka.testing.TestInput;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shaded jar's commands as a user runs them, as child processes against a real broker: wordcount
 * killed with kill -9 while input keeps arriving and restarted with the same arguments, checked by an
 * independent read_committed consumer; and every bad-input case answered with one line and a non-zero exit.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class CommandLineIT {

    private static RunningKafkaBroker broker;

    @TempDir
    Path dir;

    @BeforeAll
    static void startBroker() {
        broker = new KafkaBrokerLauncher().start();
    }

    @AfterAll
    static void stopBroker() {
        if (broker != null) {
            broker.stop();
        }
    }

    private static Process onceflow(Path log, String... args) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx384m", "-jar", System.getProperty("onceflow.jar")));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .start();
    }

    /** Runs a command to its end and returns {exit code, output}. */
    private Object[] run(String... args) throws Exception {
        Path log = Files.createTempFile(dir, "cmd", ".log");
        Process p = onceflow(log, args);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the command did not end: " + List.of(args));
        return new Object[] {p.exitValue(), Files.readString(log, StandardCharsets.UTF_8).trim()};
    }

    private static void assertOneLineError(Object[] result, String expected) {
        int exit = (int) result[0];
        String out = (String) result[1];
        assertNotEquals(0, exit, "a bad input must exit non-zero: " + out);
        List<String> lines = out.lines().filter(l -> !l.startsWith("SLF4J")).toList();
        assertEquals(1, lines.size(), "one line, not a stack trace:\n" + out);
        assertTrue(lines.get(0).contains(expected), "the line names the problem: " + lines.get(0));
        assertFalse(out.contains("\tat "), out);
    }

    private String[] wordcount(String bootstrap, String input, String output, Path checkpoints, String... extra) {
        return wordcount(bootstrap, input, output, checkpoints.toString(), extra);
    }

    private String[] wordcount(String bootstrap, String input, String output, String checkpoints, String... extra) {
        List<String> args = new ArrayList<>(List.of("wordcount", "--bootstrap-servers", bootstrap, "--input", input,
                "--output", output, "--checkpoint-dir", checkpoints, "--metrics-port", "0"));
        args.addAll(List.of(extra));
        return args.toArray(new String[0]);
    }

    @Test
    void badInputGetsOneClearLineAndANonZeroExit() throws Exception {
        String bootstrap = broker.bootstrapServers();
        createTopic(bootstrap, "errors-in", 1);
        assertOneLineError(run(wordcount(bootstrap, "errors-in", "errors-out", dir.resolve("c1"),
                "--checkpoint-interval", "soon")), "'soon' is not a duration");
        assertOneLineError(run(wordcount(bootstrap, "no-such-topic", "errors-out", dir.resolve("c2"))),
                "The input topic 'no-such-topic' does not exist");
        int freePort;
        try (ServerSocket s = new ServerSocket(0)) {
            freePort = s.getLocalPort();
        }
        assertOneLineError(run(wordcount("127.0.0.1:" + freePort, "errors-in", "errors-out", dir.resolve("c3"))),
                "Cannot reach Kafka at 127.0.0.1:" + freePort);
        assertOneLineError(run(wordcount(bootstrap, "errors-in", "errors-out", dir.resolve("c5"), "--sink", "jdbc")),
                "--jdbc-url is needed with --sink jdbc");
        assertOneLineError(run(wordcount(bootstrap, "errors-in", "errors-out", dir.resolve("c6"), "--sink", "jdbc",
                "--jdbc-url", "jdbc:postgresql://127.0.0.1:" + freePort + "/test")),
                "cannot connect to jdbc:postgresql://127.0.0.1:" + freePort + "/test");
        Path file = Files.writeString(dir.resolve("a-file"), "x");
        assertOneLineError(run(wordcount(bootstrap, "errors-in", "errors-out", file.resolve("checkpoints"))),
                "Cannot write to the checkpoint directory");
        assertOneLineError(run(wordcount(bootstrap, "errors-in", "errors-out", "nosuch://host/checkpoints")),
                "--checkpoint-dir: Checkpoint storage 'nosuch://host/checkpoints' uses the scheme 'nosuch', which no Hadoop");
        assertOneLineError(run(wordcount(bootstrap, "errors-in", "errors-out", dir.resolve("c4"), "--delivery", "maybe")),
                "--delivery must be exactly-once or at-least-once");
        assertOneLineError(run(wordcount(bootstrap, "errors-in", "errors-out", dir.resolve("c5"), "--delivery", "write-ahead")),
                "--delivery write-ahead does not go with --sink kafka");
    }

    @Test
    void wordcountKilledWhileInputArrivesAndRestartedCountsExactlyOnce() throws Exception {
        String bootstrap = broker.bootstrapServers();
        createTopic(bootstrap, "wc-in", 4);
        createTopic(bootstrap, "wc-out", 4);
        Path checkpoints = dir.resolve("checkpoints");
        Path log = dir.resolve("wordcount.log");
        String[] args = wordcount(bootstrap, "wc-in", "wc-out", checkpoints, "--checkpoint-interval", "300ms", "--state-backend", "rocksdb",
                "--dead-letter-topic", "wc-dlq");

        AtomicBoolean writing = new AtomicBoolean(true);
        Thread writer = new Thread(() -> writeLines(bootstrap, writing), "input writer");
        writer.start();
        Random random = new Random(3);
        int kills = 4;
        for (int i = 0; i < kills; i++) {
            long before = latestCheckpoint(checkpoints);
            Process p = onceflow(log, args);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (latestCheckpoint(checkpoints) <= before && p.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            if (i == 0) {
                // the same job started twice is refused while the first one runs
                assertOneLineError(run(args), "is already running");
            }
            assertFalse(p.waitFor(200 + random.nextInt(1500), TimeUnit.MILLISECONDS),
                    "wordcount ended on its own:\n" + Files.readString(log));
            p.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            assertEquals(137, p.exitValue());
        }
        writing.set(false);
        writer.join();
        // what the job must count is what the input topic holds
        List<ConsumerRecord<byte[], byte[]>> input = TestInput.readAll(bootstrap, "wc-in", Duration.ofSeconds(60));
        Map<String, Long> expected = TestInput.wordCounts(input);
        long poison = input.stream().filter(r -> !TestInput.isUtf8(r.value())).count();
        long total = expected.values().stream().mapToLong(Long::longValue).sum();

        Process last = onceflow(log, args);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < deadline) {
            if (audit(bootstrap, "wc-out", expected).records() >= total) {
                break;
            }
            Thread.sleep(500);
        }
        // the jar serves Prometheus metrics and health (the last run's port is the last one printed)
        java.util.regex.Matcher port = java.util.regex.Pattern.compile("Metrics: http://localhost:([0-9]+)/metrics")
                .matcher(Files.readString(log));
        int metricsPort = -1;
        while (port.find()) {
            metricsPort = Integer.parseInt(port.group(1));
        }
        assertTrue(metricsPort > 0, "wordcount printed its metrics port:\n" + Files.readString(log));
        java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
        String metrics = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + metricsPort
                + "/metrics")).build(), java.net.http.HttpResponse.BodyHandlers.ofString()).body();
        java.util.regex.Matcher completed = java.util.regex.Pattern.compile(
                "(?m)^onceflow_checkpoints_completed_total\\{job=\"wordcount\"\\} ([0-9.E]+)$").matcher(metrics);
        assertTrue(completed.find() && Double.parseDouble(completed.group(1)) > 0, "checkpoints in /metrics:\n" + metrics);
        assertTrue(metrics.contains("onceflow_task_records_in_total{"), metrics);
        assertDashboardMetricsExist(metrics);
        java.util.regex.Matcher lag = java.util.regex.Pattern.compile(
                "(?m)^onceflow_operator_records_lag\\{[^}]*partition=\"wc-in-([0-9])\"[^}]*\\} (\\S+)$").matcher(metrics);
        java.util.Set<String> lagged = new java.util.TreeSet<>();
        while (lag.find()) {
            assertTrue(Double.parseDouble(lag.group(2)) >= 0, "a known lag for partition " + lag.group(1) + ":\n" + metrics);
            lagged.add(lag.group(1));
        }
        assertEquals(java.util.Set.of("0", "1", "2", "3"), lagged, "a lag for each input partition");
        assertEquals(200, http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:"
                + metricsPort + "/health")).build(), java.net.http.HttpResponse.BodyHandlers.ofString()).statusCode());

        last.destroy();
        assertTrue(last.waitFor(60, TimeUnit.SECONDS), "Ctrl-C (SIGTERM) stops wordcount");
        String text = Files.readString(log);
        assertTrue(text.contains("Stopped after checkpoint"), "a graceful stop:\n" + text);
        assertTrue(java.util.regex.Pattern.compile("[0-9,]+ lines read, [0-9,]+ counts written, [0-9]+ checkpoints \\(last "
                + "[0-9]+ ms\\), lag [0-9,]+, [0-9]+ restarts").matcher(text).find(), "a status line with the lag:\n" + text);

        ExactlyOnceAudit.Report result = audit(bootstrap, "wc-out", expected);
        assertTrue(result.exact(), "after " + kills + " kill -9 of the jar: " + result);
        assertEquals(total, result.records());
        assertTrue(poison > 0);
        assertEquals(poison, audit(bootstrap, "wc-dlq", null).records(),
                "every line that is not UTF-8 is in the dead-letter topic, once");
    }

    /**
     * wordcount with {@code --checkpoint-dir hdfs://…} on a real in-process HDFS: it checkpoints there (the
     * heap's incremental chains in the job's shared directory), is stopped, and a second start resumes from
     * what HDFS holds alone (a fresh start would count every word from 1 again: duplicates).
     */
    @Test
    void wordcountCheckpointsToHdfsAndResumesFromThere() throws Exception {
        org.apache.hadoop.conf.Configuration conf = new org.apache.hadoop.conf.Configuration();
        conf.set(org.apache.hadoop.hdfs.MiniDFSCluster.HDFS_MINIDFS_BASEDIR, dir.resolve("hdfs").toString());
        org.apache.hadoop.hdfs.MiniDFSCluster hdfs = new org.apache.hadoop.hdfs.MiniDFSCluster.Builder(conf)
                .numDataNodes(1).build();
        try {
            hdfs.waitActive();
            String bootstrap = broker.bootstrapServers();
            createTopic(bootstrap, "hdfs-in", 2);
            createTopic(bootstrap, "hdfs-out", 2);
            String checkpoints = hdfs.getURI() + "/onceflow/checkpoints";
            String[] args = wordcount(bootstrap, "hdfs-in", "hdfs-out", checkpoints, "--checkpoint-interval", "300ms",
                    "--dead-letter-topic", "hdfs-dlq");
            org.apache.hadoop.fs.FileSystem fs = hdfs.getFileSystem();
            org.apache.hadoop.fs.Path job = new org.apache.hadoop.fs.Path("/onceflow/checkpoints/wordcount");
            // the name node's own record of every file written, from here on (what is left at the end depends on
            // whether the last checkpoint happened to be a base or a delta)
            org.apache.hadoop.hdfs.DFSInotifyEventInputStream events =
                    new org.apache.hadoop.hdfs.client.HdfsAdmin(hdfs.getURI(), conf).getInotifyEventStream();
            Path log = dir.resolve("hdfs-wordcount.log");
            AtomicBoolean writing = new AtomicBoolean(true);
            Thread writer = new Thread(() -> writeLines(bootstrap, "hdfs-in", writing), "input writer");
            writer.start();
            for (int run = 0; run < 2; run++) {
                long before = latestCheckpoint(fs, job);
                Process p = onceflow(log, args);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
                while (latestCheckpoint(fs, job) < before + 3 && p.isAlive() && System.nanoTime() < deadline) {
                    Thread.sleep(200);
                }
                assertTrue(p.isAlive(), "wordcount runs on HDFS checkpoints:\n" + Files.readString(log));
                if (run == 1) {
                    writing.set(false);
                    writer.join();
                    Map<String, Long> expected = TestInput.wordCounts(
                            TestInput.readAll(bootstrap, "hdfs-in", Duration.ofSeconds(60)));
                    long total = expected.values().stream().mapToLong(Long::longValue).sum();
                    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
                    while (audit(bootstrap, "hdfs-out", expected).records() < total && System.nanoTime() < until) {
                        Thread.sleep(500);
                    }
                    p.destroy();
                    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "SIGTERM stops wordcount");
                    ExactlyOnceAudit.Report result = audit(bootstrap, "hdfs-out", expected);
                    assertTrue(result.exact() && result.records() == total, "stopped, resumed from HDFS: " + result);
                } else {
                    p.destroy();
                    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "SIGTERM stops wordcount");
                }
            }
            String text = Files.readString(log);
            assertTrue(text.contains("checkpoints every 300 ms in " + checkpoints), text);
            List<String> written = new ArrayList<>();
            for (org.apache.hadoop.hdfs.inotify.EventBatch batch; (batch = events.poll()) != null; ) {
                for (org.apache.hadoop.hdfs.inotify.Event e : batch.getEvents()) {
                    if (e instanceof org.apache.hadoop.hdfs.inotify.Event.RenameEvent r) {
                        written.add(r.getDstPath());
                    } else if (e instanceof org.apache.hadoop.hdfs.inotify.Event.CreateEvent c) {
                        written.add(c.getPath());
                    }
                }
            }
            String prefix = job + "/shared/";
            List<String> shared = written.stream().filter(p -> p.startsWith(prefix)).toList();
            assertTrue(shared.stream().anyMatch(p -> p.endsWith("-base")),
                    "the heap's chains start with a base on HDFS: " + shared);
            assertTrue(shared.stream().anyMatch(p -> p.endsWith("-delta")),
                    "the heap's incremental checkpoints are on HDFS: " + shared);
        } finally {
            hdfs.shutdown();
        }
    }

    /** The newest checkpoint on HDFS with its metadata written, or 0. */
    private static long latestCheckpoint(org.apache.hadoop.fs.FileSystem fs, org.apache.hadoop.fs.Path job)
            throws IOException {
        if (!fs.exists(job)) {
            return 0;
        }
        long latest = 0;
        for (org.apache.hadoop.fs.FileStatus s : fs.listStatus(job)) {
            String name = s.getPath().getName();
            if (name.startsWith("chk-") && fs.exists(new org.apache.hadoop.fs.Path(s.getPath(), "_metadata"))) {
                latest = Math.max(latest, Long.parseLong(name.substring(4)));
            }
        }
        return latest;
    }

    /** kill -9 of the word count into a database, each at a random moment once the table has grown. */
    private static final int KILLS = 5;

    /**
     * wordcount --sink jdbc into the real PostgreSQL and MariaDB (see TestDatabase), in each delivery mode
     * (XA on MariaDB: PostgreSQL here does not prepare transactions): killed with kill -9 five times and restarted,
     * then stopped once the table holds every word; the table, read with plain SQL, holds every word's exact
     * count.
     */
    @org.junit.jupiter.params.ParameterizedTest(name = "{0} {1}")
    @org.junit.jupiter.params.provider.CsvSource({"POSTGRESQL, upsert", "POSTGRESQL, write-ahead", "MARIADB, xa"})
    void wordcountIntoADatabaseKilledAndRestartedLeavesExactCounts(io.onceflow.testing.TestDatabase database,
                                                                   String delivery) throws Exception {
        String url = database.url();
        String user = database.user();
        String password = database.password();
        String table = "wc_" + java.util.UUID.randomUUID().toString().replace("-", "").substring(0, 10);
        String bootstrap = broker.bootstrapServers();
        String topic = "wcj-in-" + delivery;
        database.connect().close(); // a database that is down fails here, saying which and how to start it
        createTopic(bootstrap, topic, 4);
        Random random = new Random(5);
        // input keeps arriving while the runs are killed, so each run has something to write
        AtomicBoolean writing = new AtomicBoolean(true);
        Thread writer = new Thread(() -> {
            Random words = new Random(6);
            try (TestInput input = TestInput.to(bootstrap)) {
                while (writing.get()) {
                    for (int i = 0; i < 200; i++) {
                        StringBuilder line = new StringBuilder();
                        for (int w = 0; w < 5; w++) {
                            line.append("w").append(words.nextInt(400)).append(' ');
                        }
                        input.send(topic, line.toString());
                    }
                    input.flush();
                    Thread.sleep(100);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "input writer");
        writer.start();
        Path checkpoints = dir.resolve("checkpoints");
        Path log = dir.resolve("wordcount-jdbc.log");
        String[] args = wordcount(bootstrap, topic, "unused", checkpoints, "--job-name", "wcj", "--sink", "jdbc", "--delivery", delivery,
                "--jdbc-url", url, "--jdbc-user", user, "--jdbc-password", password, "--table", table,
                "--checkpoint-interval", "300ms");
        try (java.sql.Connection db = database.connect()) {
            for (int i = 0; i < KILLS; i++) {
                Process run = onceflow(log, args);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                long before = i == 0 ? 0 : sum(db, table);
                while ((i == 0 ? !tableExists(db, table) || sum(db, table) == 0 : sum(db, table) <= before)
                        && run.isAlive() && System.nanoTime() < deadline) {
                    Thread.sleep(50);
                }
                assertFalse(run.waitFor(random.nextInt(800), TimeUnit.MILLISECONDS),
                        "wordcount ended on its own:\n" + Files.readString(log));
                run.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
                assertEquals(137, run.exitValue());
            }
            writing.set(false);
            writer.join();
            Map<String, Long> expected = TestInput.wordCounts(TestInput.readAll(bootstrap, topic, Duration.ofSeconds(60)));
            long total = expected.values().stream().mapToLong(Long::longValue).sum();
            Process last = onceflow(log, args);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (sum(db, table) < total && System.nanoTime() < deadline) {
                assertTrue(last.isAlive(), "wordcount ended:\n" + Files.readString(log));
                Thread.sleep(200);
            }
            last.destroy();
            assertTrue(last.waitFor(60, TimeUnit.SECONDS), "SIGTERM stops wordcount");
            assertTrue(Files.readString(log).contains("-> table " + table), Files.readString(log));

            Map<String, Long> actual = new HashMap<>();
            try (java.sql.Statement st = db.createStatement();
                 java.sql.ResultSet rs = st.executeQuery("SELECT word, count FROM " + table)) {
                while (rs.next()) {
                    actual.put(rs.getString(1), rs.getLong(2));
                }
            }
            assertEquals(expected, actual, delivery + ": every word's count in " + table + " after " + KILLS + " kill -9");
        } finally {
            writing.set(false);
            writer.join();
            try (java.sql.Connection db = database.connect(); java.sql.Statement st = db.createStatement()) {
                st.execute("DROP TABLE IF EXISTS " + table);
            }
        }
    }

    /**
     * wordcount --sink redis into the real Redis (127.0.0.1:6379, or -Donceflow.test.redis.url): killed with
     * kill -9 once and restarted, then stopped once every count is there; plain GETs find every word's
     * exact count under {@code <job-name>:<word>}.
     */
    @Test
    void wordcountIntoRedisKilledAndRestartedLeavesExactCounts() throws Exception {
        String redisUrl = System.getProperty("onceflow.test.redis.url", "redis://127.0.0.1:6379");
        String bootstrap = broker.bootstrapServers();
        createTopic(bootstrap, "wcr-in", 4);
        Random random = new Random(7);
        try (TestInput input = TestInput.to(bootstrap)) {
            for (int i = 0; i < 20_000; i++) {
                StringBuilder line = new StringBuilder();
                for (int w = 0; w < 5; w++) {
                    line.append("w").append(random.nextInt(300)).append(' ');
                }
                input.send("wcr-in", line.toString());
            }
        }
        Map<String, Long> expected = TestInput.wordCounts(TestInput.readAll(bootstrap, "wcr-in", Duration.ofSeconds(60)));
        long total = expected.values().stream().mapToLong(Long::longValue).sum();
        String job = "wcr-" + java.util.UUID.randomUUID().toString().substring(0, 8);
        Path log = dir.resolve("wordcount-redis.log");
        String[] args = wordcount(bootstrap, "wcr-in", "unused", dir.resolve("checkpoints"), "--job-name", job,
                "--sink", "redis", "--redis-url", redisUrl, "--checkpoint-interval", "300ms", "--quiet");
        io.lettuce.core.RedisClient client = io.lettuce.core.RedisClient.create();
        io.lettuce.core.api.StatefulRedisConnection<String, String> redis;
        try {
            redis = client.connect(io.lettuce.core.RedisURI.create(redisUrl));
        } catch (RuntimeException e) {
            client.shutdown();
            throw new AssertionError("Redis at " + redisUrl + " is not reachable: " + e.getMessage() + ". This test needs "
                    + "it running: start it (sudo service redis-server start), or point it at another server with "
                    + "-Donceflow.test.redis.url=redis://host:port", e);
        }
        try {
            Process first = onceflow(log, args);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (redisCounts(redis, job).isEmpty() && first.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertFalse(first.waitFor(random.nextInt(800), TimeUnit.MILLISECONDS), "wordcount ended on its own:\n"
                    + Files.readString(log));
            first.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            assertEquals(137, first.exitValue());

            Process last = onceflow(log, args);
            deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (redisCounts(redis, job).values().stream().mapToLong(Long::longValue).sum() < total
                    && System.nanoTime() < deadline) {
                assertTrue(last.isAlive(), "wordcount ended:\n" + Files.readString(log));
                Thread.sleep(200);
            }
            last.destroy();
            assertTrue(last.waitFor(60, TimeUnit.SECONDS), "SIGTERM stops wordcount");
            assertTrue(Files.readString(log).contains("keys " + job + ":<word> at " + redisUrl), Files.readString(log));
            assertFalse(Files.readString(log).contains("lines read"), "--quiet prints no status line:\n" + Files.readString(log));
            assertEquals(expected, redisCounts(redis, job), "every word's count in Redis after a kill -9");
        } finally {
            io.lettuce.core.ScanIterator<String> keys = io.lettuce.core.ScanIterator.scan(redis.sync(),
                    io.lettuce.core.ScanArgs.Builder.matches(job + ":*").limit(1000));
            while (keys.hasNext()) {
                redis.sync().del(keys.next());
            }
            redis.close();
            client.shutdown();
        }
    }

    /** Every word's count under {@code <job>:<word>} (the versions under {@code <job>:<word>:version} left out). */
    private static Map<String, Long> redisCounts(io.lettuce.core.api.StatefulRedisConnection<String, String> redis, String job) {
        Map<String, Long> counts = new HashMap<>();
        io.lettuce.core.ScanIterator<String> keys = io.lettuce.core.ScanIterator.scan(redis.sync(),
                io.lettuce.core.ScanArgs.Builder.matches(job + ":*").limit(1000));
        while (keys.hasNext()) {
            String key = keys.next();
            if (!key.endsWith(":version")) {
                counts.put(key.substring(job.length() + 1), Long.parseLong(redis.sync().get(key)));
            }
        }
        return counts;
    }

    private static boolean tableExists(java.sql.Connection db, String table) throws java.sql.SQLException {
        try (java.sql.ResultSet rs = db.getMetaData().getTables(null, null, table, null)) {
            return rs.next();
        }
    }

    private static long sum(java.sql.Connection db, String table) throws java.sql.SQLException {
        if (!tableExists(db, table)) {
            return 0;
        }
        try (java.sql.Statement st = db.createStatement();
             java.sql.ResultSet rs = st.executeQuery("SELECT COALESCE(SUM(count), 0) FROM " + table)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /**
     * Every metric the Grafana dashboard in docker/ queries is served by a running wordcount: the names in
     * its PromQL expressions, checked against a live scrape.
     */
    private static void assertDashboardMetricsExist(String scrape) throws Exception {
        String dashboard = Files.readString(Path.of("..", "docker", "grafana", "dashboards", "onceflow.json"));
        java.util.regex.Matcher expr = java.util.regex.Pattern.compile("\"expr\": \"((?:[^\"\\\\]|\\\\.)*)\"")
                .matcher(dashboard);
        java.util.Set<String> names = new java.util.TreeSet<>();
        while (expr.find()) {
            java.util.regex.Matcher name = java.util.regex.Pattern.compile("\\b((?:onceflow|jvm|process)_[a-z0-9_]+)")
                    .matcher(expr.group(1));
            while (name.find()) {
                names.add(name.group(1));
            }
        }
        assertTrue(names.size() >= 10, "the dashboard's expressions name its metrics: " + names);
        java.util.Set<String> served = new java.util.HashSet<>();
        scrape.lines().filter(l -> !l.startsWith("#") && !l.isBlank())
                .forEach(l -> served.add(l.split("[{ ]", 2)[0]));
        List<String> missing = names.stream().filter(n -> !served.contains(n)).toList();
        assertTrue(missing.isEmpty(), "the dashboard queries metrics wordcount does not serve: " + missing);
    }

    /**
     * Writes lines of words at a steady pace until told to stop, and now and then a line that is not UTF-8.
     * The test reads back what the topic holds; a send that fails is made again (see {@link TestInput}).
     */
    private static void writeLines(String bootstrap, AtomicBoolean writing) {
        writeLines(bootstrap, "wc-in", writing);
    }

    private static void writeLines(String bootstrap, String topic, AtomicBoolean writing) {
        Random random = new Random(11);
        // one producer for words and poison, so the poison lands among the words
        try (TestInput input = TestInput.to(bootstrap)) {
            while (writing.get()) {
                input.send(topic, new byte[] {(byte) 0xff, (byte) 0xfe});
                for (int i = 0; i < 50; i++) {
                    StringBuilder line = new StringBuilder();
                    for (int w = 0; w < 5; w++) {
                        line.append("w").append(random.nextInt(300)).append(' ');
                    }
                    input.send(topic, line.toString());
                }
                input.flush();
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }
    }

    private static ExactlyOnceAudit.Report audit(String bootstrap, String topic, Map<String, Long> expected) {
        Properties client = new Properties();
        client.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        return ExactlyOnceAudit.verify(client, topic, expected, Duration.ofSeconds(30));
    }

    private static long latestCheckpoint(Path checkpoints) throws IOException {
        Path job = checkpoints.resolve("wordcount");
        if (!Files.isDirectory(job)) {
            return 0;
        }
        try (Stream<Path> s = Files.list(job)) {
            return s.filter(d -> Files.exists(d.resolve("_metadata")))
                    .mapToLong(d -> Long.parseLong(d.getFileName().toString().substring(4))).max().orElse(0);
        }
    }

    private static void createTopic(String bootstrap, String topic, int partitions) {
        try (KafkaChecks kafka = new KafkaChecks(bootstrap)) {
            kafka.ensureTopic(topic, partitions);
        }
    }
}
