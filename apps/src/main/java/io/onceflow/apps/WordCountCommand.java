package io.onceflow.apps;

import io.onceflow.api.JobClient;
import io.onceflow.api.JobExecutionException;
import io.onceflow.api.JobMetrics;
import io.onceflow.api.JobStatus;
import io.onceflow.kafka.sink.DeliveryGuarantee;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import io.onceflow.api.HeapStateBackend;
import io.onceflow.api.RocksDBStateBackend;
import io.onceflow.api.StateBackend;
import io.onceflow.kafka.source.OffsetOutOfRangePolicy;
import picocli.CommandLine.Option;

/** {@code onceflow wordcount}: the word-count pipeline against your own Kafka. */
@Command(name = "wordcount", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Read text lines from the input topic, split them on whitespace, keep a running count per word, "
                + "and for every word occurrence write one record to the output topic: key = the word, value = its "
                + "count so far (1, 2, 3, ...).",
                "Runs until stopped. Started again with the same arguments (after Ctrl-C, a crash or kill -9) it "
                + "resumes from its latest completed checkpoint."})
final class WordCountCommand implements Callable<Integer> {

    @Option(names = "--bootstrap-servers", required = true, paramLabel = "HOST:PORT", description = "Kafka to read and write.")
    String bootstrapServers;

    @Option(names = "--input", required = true, paramLabel = "TOPIC", description = "Topic of text lines (must exist).")
    String input;

    @Option(names = "--output", paramLabel = "TOPIC",
            description = "Topic for (word, count); created with the input's partition count if missing. "
                    + "Required with --sink kafka.")
    String output;

    @Option(names = "--sink", defaultValue = "kafka", paramLabel = "SINK",
            description = "Where the running counts go: kafka (the --output topic, exactly once by transactions), "
                    + "jdbc (a table of the --jdbc-url database: one row per word holding its latest count) or redis "
                    + "(the key <job-name>:<word> of the --redis-url server holds the word's latest count, written with "
                    + "the count as version). Default: ${DEFAULT-VALUE}.")
    String sinkKind;

    @Option(names = "--redis-url", paramLabel = "URL", defaultValue = "redis://localhost:6379",
            description = "With --sink redis: redis://[password@]host:port[/database] (default: ${DEFAULT-VALUE}).")
    String redisUrl;

    @Option(names = "--jdbc-url", paramLabel = "URL",
            description = "With --sink jdbc: jdbc:postgresql://host:5432/db or jdbc:mariadb://host:3306/db.")
    String jdbcUrl;

    @Option(names = "--jdbc-user", paramLabel = "USER", description = "With --sink jdbc: the database user.")
    String jdbcUser;

    @Option(names = "--jdbc-password", paramLabel = "PASSWORD",
            description = "With --sink jdbc: the password (default: none; or set ONCEFLOW_JDBC_PASSWORD).")
    String jdbcPassword;

    @Option(names = "--table", defaultValue = "word_counts", paramLabel = "TABLE",
            description = "With --sink jdbc: the table, created with columns word (primary key) and count when "
                    + "missing. Default: ${DEFAULT-VALUE}.")
    String table;

    @Option(names = "--checkpoint-dir", required = true, paramLabel = "DIR|URI",
            description = "Where checkpoints are kept: a local directory, or a Hadoop file system URI such as "
                    + "hdfs://namenode:8020/checkpoints.")
    String checkpointDir;

    @Option(names = "--checkpoint-interval", defaultValue = "1s", paramLabel = "DURATION",
            description = "Time between checkpoints, e.g. 500ms, 1s, 1m (default: ${DEFAULT-VALUE}).")
    Duration interval;

    @Option(names = "--parallelism", defaultValue = "2", paramLabel = "N", description = "Parallel subtasks (default: ${DEFAULT-VALUE}).")
    int parallelism;

    @Option(names = "--delivery", paramLabel = "MODE",
            description = "With --sink kafka: exactly-once (default) or at-least-once. With --sink jdbc: upsert "
                    + "(default: each record an idempotent upsert, flushed at every checkpoint) or write-ahead (each "
                    + "checkpoint's counts kept in checkpoint storage and written once it completes, together with a "
                    + "commit row, in one transaction) or xa (each checkpoint's counts in a prepared transaction, "
                    + "committed when it completes: MariaDB/MySQL, or PostgreSQL with max_prepared_transactions > 0).")
    String delivery;

    @Option(names = "--quiet", description = "No status line every 5 seconds (records in and out, checkpoints, lag, "
            + "restarts); problems and the stop are still reported.")
    boolean quiet;

    @Option(names = "--job-name", defaultValue = "wordcount", paramLabel = "NAME",
            description = "Names the job's checkpoints and Kafka transactions (default: ${DEFAULT-VALUE}).")
    String jobName;

    @Option(names = "--ignore-failures-after-transaction-timeout",
            description = "Accept data loss instead of stopping: when the broker aborted a checkpoint's transaction "
                    + "because the job was down longer than the transaction timeout, log and count the lost records "
                    + "and go on. Without it the job stops and says what was lost.")
    boolean ignoreFailuresAfterTransactionTimeout;

    @Option(names = "--dead-letter-topic", paramLabel = "TOPIC",
            description = "Send input records that are not valid UTF-8 text to this topic (with their origin and the "
                    + "error in headers), exactly once, instead of stopping the job. Created if missing.")
    String deadLetterTopic;

    @Option(names = "--offset-out-of-range", defaultValue = "fail", paramLabel = "POLICY",
            description = "When input was deleted (retention) before it was read: fail (stop and say how many records "
                    + "are gone) or earliest (accept the loss, log and count it, go on from the earliest record left). "
                    + "Default: ${DEFAULT-VALUE}.")
    String offsetOutOfRange;

    @Option(names = "--state-backend", defaultValue = "heap", paramLabel = "BACKEND",
            description = "Where the running counts live: heap (fastest; must fit in the heap) or rocksdb (on local "
                    + "disk, for more words than the heap holds). Default: ${DEFAULT-VALUE}.")
    String stateBackend;

    @Option(names = "--take-over",
            description = "Take the job from another instance that still holds its checkpoint directory but is hung "
                    + "(stopped, or on a machine that is cut off); the old instance is fenced.")
    boolean takeOver;

    @Option(names = "--metrics-port", defaultValue = "9249", paramLabel = "PORT",
            description = "Serve Prometheus metrics at http://<host>:PORT/metrics and health at /health and "
                    + "/health/ready; 0 picks a free port, -1 turns it off. Default: ${DEFAULT-VALUE}.")
    int metricsPort;

    @Override
    public Integer call() throws Exception {
        boolean toJdbc = "jdbc".equalsIgnoreCase(sinkKind);
        boolean toRedis = "redis".equalsIgnoreCase(sinkKind);
        if (toRedis && delivery != null && !delivery.equalsIgnoreCase("upsert")) {
            throw new UserError("--sink redis writes idempotent, versioned SETs: leave --delivery out (or say upsert), "
                    + "was '" + delivery + "'");
        }
        String mode = toRedis ? "upsert" : delivery != null ? delivery.toLowerCase(Locale.ROOT) : toJdbc ? "upsert" : "exactly-once";
        DeliveryGuarantee guarantee = switch (mode) {
            case "exactly-once", "upsert", "write-ahead", "xa" -> DeliveryGuarantee.EXACTLY_ONCE;
            case "at-least-once" -> DeliveryGuarantee.AT_LEAST_ONCE;
            default -> throw new UserError("--delivery must be " + (toJdbc ? "upsert, write-ahead or xa" : "exactly-once or "
                    + "at-least-once") + " with --sink " + sinkKind.toLowerCase(Locale.ROOT) + ", was '" + delivery + "'");
        };
        if (!toRedis && toJdbc != (mode.equals("upsert") || mode.equals("write-ahead") || mode.equals("xa"))) {
            throw new UserError("--delivery " + mode + " does not go with --sink " + sinkKind.toLowerCase(Locale.ROOT)
                    + ": use " + (toJdbc ? "upsert, write-ahead or xa" : "exactly-once or at-least-once"));
        }
        if (parallelism < 1 || parallelism > 128) {
            throw new UserError("--parallelism must be between 1 and 128, was " + parallelism);
        }
        OffsetOutOfRangePolicy outOfRange = switch (offsetOutOfRange.toLowerCase(Locale.ROOT)) {
            case "fail" -> OffsetOutOfRangePolicy.FAIL;
            case "earliest" -> OffsetOutOfRangePolicy.EARLIEST;
            default -> throw new UserError("--offset-out-of-range must be fail or earliest, was '" + offsetOutOfRange + "'");
        };
        StateBackend backend = switch (stateBackend.toLowerCase(Locale.ROOT)) {
            case "heap" -> new HeapStateBackend();
            case "rocksdb" -> RocksDBStateBackend.create();
            default -> throw new UserError("--state-backend must be heap or rocksdb, was '" + stateBackend + "'");
        };
        WordCountJob.JdbcOutput jdbc = null;
        switch (sinkKind.toLowerCase(Locale.ROOT)) {
            case "kafka" -> {
                if (output == null) {
                    throw new UserError("--output TOPIC is needed with --sink kafka");
                }
            }
            case "jdbc" -> {
                if (jdbcUrl == null) {
                    throw new UserError("--jdbc-url is needed with --sink jdbc, e.g. jdbc:postgresql://localhost:5432/db");
                }
                if (!jdbcUrl.startsWith("jdbc:postgresql:") && !jdbcUrl.startsWith("jdbc:mariadb:")
                        && !jdbcUrl.startsWith("jdbc:mysql:")) {
                    throw new UserError("--jdbc-url must be a jdbc:postgresql:, jdbc:mariadb: or jdbc:mysql: URL, was '"
                            + jdbcUrl + "'");
                }
                if (!table.matches("[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)?")) {
                    throw new UserError("--table must be a plain table name, was '" + table + "'");
                }
                String password = jdbcPassword != null ? jdbcPassword : System.getenv("ONCEFLOW_JDBC_PASSWORD");
                jdbc = new WordCountJob.JdbcOutput(jdbcUrl, jdbcUser, password, table, switch (mode) {
                    case "write-ahead" -> WordCountJob.JdbcOutput.Mode.WRITE_AHEAD;
                    case "xa" -> WordCountJob.JdbcOutput.Mode.XA;
                    default -> WordCountJob.JdbcOutput.Mode.UPSERT;
                });
            }
            case "redis" -> {
                try {
                    io.lettuce.core.RedisURI.create(redisUrl);
                } catch (IllegalArgumentException e) {
                    throw new UserError("--redis-url must look like redis://host:6379, was '" + redisUrl + "'");
                }
            }
            default -> throw new UserError("--sink must be kafka, jdbc or redis, was '" + sinkKind + "'");
        }
        if (metricsPort < -1 || metricsPort > 65535) {
            throw new UserError("--metrics-port must be a port (0 for any free one, -1 for none), was " + metricsPort);
        }
        if (interval.toMillis() < 10) {
            throw new UserError("--checkpoint-interval must be at least 10ms, was " + interval.toMillis() + "ms");
        }
        String checkpointStorage = checkpointStorage(checkpointDir);
        try (KafkaChecks kafka = new KafkaChecks(bootstrapServers)) {
            kafka.requireReachable();
            int partitions = kafka.requireTopic(input, "input");
            if (output != null && jdbc == null && !toRedis && kafka.ensureTopic(output, partitions)) {
                System.out.println("Created output topic '" + output + "' with " + partitions + " partitions");
            }
            if (deadLetterTopic != null && kafka.ensureTopic(deadLetterTopic, 1)) {
                System.out.println("Created dead-letter topic '" + deadLetterTopic + "'");
            }
        }
        WordCountJob.Settings settings = new WordCountJob.Settings(bootstrapServers, input, output, checkpointStorage,
                interval, parallelism, guarantee, jobName, false, ignoreFailuresAfterTransactionTimeout, deadLetterTopic,
                outOfRange, takeOver, backend);
        if (ignoreFailuresAfterTransactionTimeout) {
            System.out.println("WARNING: --ignore-failures-after-transaction-timeout: transactions the broker aborted "
                    + "while the job was down are given up, and their records are LOST (logged and counted)");
        }
        io.onceflow.api.StreamEnvironment env = WordCountJob.build(settings, jdbc, toRedis ? redisUrl : null);
        if (metricsPort >= 0) {
            env.enableMetricsEndpoint(metricsPort);
        }
        JobClient job = env.executeAsync(jobName);
        System.out.println("wordcount '" + jobName + "' running: " + input + " -> "
                + (jdbc != null ? "table " + table + " at " + jdbcUrl + ", " + mode
                : toRedis ? "keys " + jobName + ":<word> at " + redisUrl : output + ", " + mode)
                + ", checkpoints every " + interval.toMillis() + " ms in " + checkpointDir + ". Ctrl-C stops it.");
        if (job.getMetricsPort() > 0) {
            System.out.println("Metrics: http://localhost:" + job.getMetricsPort() + "/metrics, health: http://localhost:"
                    + job.getMetricsPort() + "/health");
        }
        Thread stopper = new Thread(() -> stop(job), "onceflow wordcount stop");
        Runtime.getRuntime().addShutdownHook(stopper);
        long lastReport = 0;
        while (true) {
            try {
                JobStatus status = job.awaitTermination(Duration.ofSeconds(1));
                if (status.isTerminal()) {
                    return 0;
                }
            } catch (java.util.concurrent.TimeoutException e) {
                if (!quiet && System.nanoTime() - lastReport > TimeUnit.SECONDS.toNanos(5)) {
                    lastReport = System.nanoTime();
                    report(job);
                }
            } catch (JobExecutionException e) {
                throw new UserError("the job failed: " + Errors.oneLine(e.getCause() != null ? e.getCause() : e), e);
            }
        }
    }

    private static void stop(JobClient job) {
        if (job.getStatus().isTerminal()) {
            return;
        }
        try {
            long id = job.stop(Duration.ofSeconds(60));
            System.out.println("Stopped after checkpoint " + id + "; start again with the same arguments to continue.");
        } catch (Exception e) {
            System.err.println("Stopping took too long or failed (" + Errors.oneLine(e) + "); the next start resumes "
                    + "from the latest completed checkpoint.");
            job.cancel();
        }
    }

    /**
     * One status line: records in and out, checkpoints and the last one's duration, the input's lag (records
     * on the broker not read yet), restarts, and every counter that is not zero.
     */
    static void report(JobClient job) {
        JobMetrics m = job.getMetrics();
        StringBuilder extra = new StringBuilder();
        job.getCounters().forEach((name, n) -> {
            if (n > 0) {
                extra.append(", ").append(name).append(' ').append(n);
            }
        });
        Double lag = job.getGauges().get("kafka-input.recordsLag");
        System.out.printf(Locale.ROOT, "  %,d lines read, %,d counts written, %d checkpoints (last %d ms), lag %s, "
                        + "%d restarts%s%n", m.numRecordsIn(), m.numRecordsOut(), m.numberOfCompletedCheckpoints(),
                m.lastCheckpointDurationMillis(), lag == null ? "unknown" : String.format(Locale.ROOT, "%,.0f", lag),
                m.numRestarts(), extra);
    }

    /**
     * The checkpoint storage URI for {@code --checkpoint-dir}: a local directory is created and checked
     * writable; a Hadoop URI must name a file system the class path has.
     */
    static String checkpointStorage(String dirOrUri) {
        boolean local = dirOrUri.startsWith("file:") || !dirOrUri.contains("://");
        if (local) {
            Path dir;
            try {
                dir = dirOrUri.startsWith("file:") ? Path.of(java.net.URI.create(dirOrUri)) : Path.of(dirOrUri);
            } catch (IllegalArgumentException e) { // a malformed URI or path
                throw new UserError("--checkpoint-dir '" + dirOrUri + "' is neither a directory nor a URI ("
                        + e.getMessage() + "): give a path, file:///path or hdfs://namenode:8020/path");
            }
            requireWritable(dir);
            return dir.toUri().toString();
        }
        // built once to check the URI (scheme known, file system reachable), then closed: the job builds its own
        try {
            io.onceflow.runtime.storage.CheckpointStorage.fromUri(dirOrUri).close();
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new UserError("--checkpoint-dir: " + e.getMessage());
        }
        return dirOrUri;
    }

    static void requireWritable(Path dir) {
        try {
            Files.createDirectories(dir);
            Path probe = Files.createTempFile(dir, ".probe", ".tmp");
            Files.delete(probe);
        } catch (IOException | SecurityException e) {
            throw new UserError("Cannot write to the checkpoint directory " + dir + " (" + e.getClass().getSimpleName()
                    + "): choose a directory this user can create and write");
        }
    }
}
