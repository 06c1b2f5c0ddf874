package io.onceflow.runtime.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.onceflow.api.CheckpointStats;
import io.onceflow.api.JobStatus;
import io.onceflow.runtime.JobMaster;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP endpoint of a running job: {@code /metrics} in the Prometheus text format (Micrometer's
 * Prometheus registry, every meter tagged with the job's name) and {@code /health} for liveness and
 * readiness probes. Served by the JDK's HTTP server on a thread of its own.
 *
 * <p>Names follow Flink's metrics in Prometheus style: {@code onceflow_checkpoints_completed_total},
 * {@code onceflow_checkpoint_duration_seconds} (a histogram), {@code onceflow_job_restarts_total},
 * {@code onceflow_task_records_in_total{task,subtask}}, every operator counter as
 * {@code onceflow_operator_<name>_total{operator,subtask}}, every operator histogram as
 * {@code onceflow_operator_<name>_seconds{operator,subtask}} (with buckets), and the JVM's and
 * process's own.
 *
 * <p>{@code /health} answers 200 while the job is alive (not failed) and {@code /health/ready} 200 when
 * it is running and its last completed checkpoint is younger than a few checkpoint intervals (both
 * 503 otherwise), each with a small JSON body.
 */
public final class PrometheusEndpoint implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(PrometheusEndpoint.class);

    private final JobMaster job;
    private final PrometheusMeterRegistry registry;
    private final HttpServer server;
    private final Timer checkpointDurations;
    private final long readyWithinMillis;
    private final long startedAt = System.currentTimeMillis();
    private final Set<String> registered = new HashSet<>();
    private long lastRecordedCheckpoint = -1;

    private PrometheusEndpoint(JobMaster job, int port, long readyWithinMillis) throws IOException {
        this.job = job;
        this.readyWithinMillis = readyWithinMillis;
        this.registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        registry.config().commonTags("job", job.getJobName());
        bindJob();
        new JvmMemoryMetrics().bindTo(registry);
        new JvmGcMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        this.checkpointDurations = Timer.builder("onceflow.checkpoint.duration")
                .description("Time from trigger to completion of each completed checkpoint")
                .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofMinutes(10)).register(registry);
        job.getMetricRegistry().watchHistograms(this::bindHistogram);
        this.server = HttpServer.create(new InetSocketAddress(port), 0);
        server.createContext("/metrics", this::metrics);
        server.createContext("/health", this::health);
        server.setExecutor(Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "onceflow metrics " + job.getJobName());
            t.setDaemon(true);
            return t;
        }));
        server.start();
    }

    /**
     * Starts serving on {@code port} (0: a free one, see {@link #port()}).
     *
     * @param readyWithinMillis how young the last completed checkpoint must be for {@code /health/ready}
     */
    public static PrometheusEndpoint start(JobMaster job, int port, long readyWithinMillis) {
        try {
            return new PrometheusEndpoint(job, port, readyWithinMillis);
        } catch (IOException e) {
            throw new IllegalStateException("Job '" + job.getJobName() + "' cannot serve its metrics on port " + port
                    + ": " + e.getMessage() + ". Choose a free port (0 picks one)", e);
        }
    }

    public int port() {
        return server.getAddress().getPort();
    }

    /**
     * What one scrape reports of the job, taken once per scrape: the meters read it rather than each asking
     * the job (which sums every task and copies the checkpoint history) again.
     */
    private record View(io.onceflow.api.JobMetrics metrics, CheckpointStats last, Map<JobMaster.TaskKey, long[]> tasks) {
    }

    private static final CheckpointStats NONE = new CheckpointStats(-1, 0, 0, 0, 0, 0, 0);

    private volatile View view;

    private View view() {
        return view;
    }

    private void bindJob() {
        view = takeView(job.getCompletedCheckpoints());
        FunctionCounter.builder("onceflow.checkpoints.completed", this, e -> e.view().metrics().numberOfCompletedCheckpoints())
                .description("Completed checkpoints").register(registry);
        FunctionCounter.builder("onceflow.checkpoints.failed", this, e -> e.view().metrics().numberOfFailedCheckpoints())
                .description("Failed checkpoints (declined, timed out, or their storage failed)").register(registry);
        Gauge.builder("onceflow.checkpoints.in.progress", this, e -> e.view().metrics().numberOfInProgressCheckpoints())
                .description("Checkpoints triggered and not yet completed or failed").register(registry);
        Gauge.builder("onceflow.checkpoint.last.duration.seconds", this, e -> e.view().metrics().lastCheckpointDurationMillis() / 1000.0)
                .description("Duration of the last completed checkpoint").register(registry);
        Gauge.builder("onceflow.checkpoint.last.size.bytes", this, e -> e.view().metrics().lastCheckpointSizeBytes())
                .description("Full state size of the last completed checkpoint").register(registry);
        Gauge.builder("onceflow.checkpoint.last.incremental.size.bytes", this, e -> e.view().last().incrementalSizeBytes())
                .description("What the last completed checkpoint wrote itself (RocksDB shares older files)")
                .register(registry);
        Gauge.builder("onceflow.checkpoint.last.alignment.seconds", this, e -> e.view().last().maxAlignmentMillis() / 1000.0)
                .description("Longest barrier alignment of the last completed checkpoint").register(registry);
        Gauge.builder("onceflow.checkpoint.last.completed.age.seconds", this, e -> e.ageMillis(e.view().last()) / 1000.0)
                .description("Time since the last completed checkpoint was triggered (since the start before one)")
                .register(registry);
        Gauge.builder("onceflow.checkpoint.last.completed.id", this, e -> e.view().metrics().lastCompletedCheckpointId())
                .description("Id of the last completed checkpoint").register(registry);
        FunctionCounter.builder("onceflow.job.restarts", this, e -> e.view().metrics().numRestarts())
                .description("Restarts of the job in this process").register(registry);
        Gauge.builder("onceflow.job.last.restore.duration.seconds", this, e -> {
            long millis = e.view().metrics().lastRestoreDurationMillis();
            return millis < 0 ? Double.NaN : millis / 1000.0;
        }).description("Time the last run that restored a checkpoint took to read its state (NaN before one did)")
                .register(registry);
        Gauge.builder("onceflow.job.uptime.seconds", this, e -> (System.currentTimeMillis() - startedAt) / 1000.0)
                .description("Time since the job started").register(registry);
        for (JobStatus s : JobStatus.values()) {
            Gauge.builder("onceflow.job.status", this, e -> e.view().metrics().status() == s ? 1 : 0)
                    .tag("status", s.name()).description("1 for the job's current status").register(registry);
        }
        FunctionCounter.builder("onceflow.job.records.in", this, e -> e.view().metrics().numRecordsIn())
                .description("Records read by the job's sources").register(registry);
        FunctionCounter.builder("onceflow.job.records.out", this, e -> e.view().metrics().numRecordsOut())
                .description("Records handed to the job's sinks").register(registry);
    }

    private View takeView(List<CheckpointStats> history) {
        return new View(job.getMetrics(), history.isEmpty() ? NONE : history.get(history.size() - 1), job.getTaskRecords());
    }

    /** Since the last completed checkpoint was triggered, or since the start before one. */
    private long ageMillis(CheckpointStats last) {
        long since = last == NONE ? startedAt : last.triggerTimestamp();
        return Math.max(0, System.currentTimeMillis() - since);
    }

    private long lastCompletedAgeMillis() {
        List<CheckpointStats> history = job.getCompletedCheckpoints();
        return ageMillis(history.isEmpty() ? NONE : history.get(history.size() - 1));
    }

    /** Takes this scrape's view, and adds the meters that appeared while the job runs. */
    private synchronized void refresh() {
        List<CheckpointStats> history = job.getCompletedCheckpoints();
        for (CheckpointStats s : history) {
            if (s.checkpointId() > lastRecordedCheckpoint) {
                checkpointDurations.record(Duration.ofMillis(s.durationMillis()));
                lastRecordedCheckpoint = s.checkpointId();
            }
        }
        view = takeView(history);
        for (JobMaster.TaskKey key : view.tasks().keySet()) {
            if (registered.add("task " + key)) {
                Tags tags = Tags.of("task", key.task(), "subtask", Integer.toString(key.subtask()));
                FunctionCounter.builder("onceflow.task.records.in", this, e -> value(e.view().tasks().get(key), 0))
                        .tags(tags).description("Records read by a task (its chain's first operator)").register(registry);
                FunctionCounter.builder("onceflow.task.records.out", this, e -> value(e.view().tasks().get(key), 1))
                        .tags(tags).description("Records emitted by a task (its chain's last operator)").register(registry);
            }
        }
        refreshGauges();
        for (MetricRegistry.Entry e : job.getMetricRegistry().entries()) {
            if (registered.add("operator " + e.operatorUid() + " " + e.subtask() + " " + e.name())) {
                FunctionCounter.builder("onceflow.operator." + snake(e.name()), e.counter(), c -> c.getCount())
                        .tags("operator", e.operatorUid(), "subtask", Integer.toString(e.subtask()))
                        .description("Operator counter " + e.name()).register(registry);
            }
        }
    }

    /** Registers an operator histogram's timer and has every later value recorded in it too. */
    private void bindHistogram(MetricRegistry.HistogramEntry e) {
        Timer timer = Timer.builder("onceflow.operator." + snake(e.name()))
                .tags("operator", e.operatorUid(), "subtask", Integer.toString(e.subtask()))
                .description("Operator histogram " + e.name())
                .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofMinutes(10)).register(registry);
        e.histogram().forwardTo(millis -> timer.record(Duration.ofMillis(millis)));
    }

    private void refreshGauges() {
        MetricRegistry metrics = job.getMetricRegistry();
        for (MetricRegistry.GaugeKey key : metrics.gaugeKeys()) {
            if (registered.add("gauge " + key)) {
                List<io.micrometer.core.instrument.Tag> tags = new java.util.ArrayList<>();
                tags.add(io.micrometer.core.instrument.Tag.of("operator", key.operatorUid()));
                tags.add(io.micrometer.core.instrument.Tag.of("subtask", Integer.toString(key.subtask())));
                key.tags().forEach((k, v) -> tags.add(io.micrometer.core.instrument.Tag.of(k, v)));
                Gauge.builder("onceflow.operator." + snake(key.name()), metrics, m -> m.gaugeValue(key)).tags(tags)
                        .description("Operator gauge " + key.name()).register(registry);
            }
        }
    }

    private static double value(long[] values, int i) {
        return values == null ? 0 : values[i];
    }

    /** {@code rowsWritten} → {@code rows.written}, which the registry writes {@code rows_written}. */
    static String snake(String name) {
        StringBuilder b = new StringBuilder();
        for (char c : name.toCharArray()) {
            if (Character.isUpperCase(c)) {
                b.append('.').append(Character.toLowerCase(c));
            } else {
                b.append(c == '_' ? '.' : c);
            }
        }
        return b.toString();
    }

    /** The text a scrape returns. */
    public String scrape() {
        refresh();
        return registry.scrape();
    }

    private void metrics(HttpExchange exchange) throws IOException {
        try (exchange) {
            byte[] body = scrape().getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        } catch (RuntimeException e) {
            LOG.warn("Serving metrics of job '{}' failed: {}", job.getJobName(), e.toString());
            throw e;
        }
    }

    private void health(HttpExchange exchange) throws IOException {
        try (exchange) {
            JobStatus status = job.getStatus();
            boolean live = status != JobStatus.FAILED;
            long age = lastCompletedAgeMillis();
            boolean checkpointing = job.getCheckpointIntervalMillis() > 0;
            boolean ready = status == JobStatus.RUNNING && (!checkpointing || age <= readyWithinMillis);
            boolean askedReady = exchange.getRequestURI().getPath().endsWith("/ready");
            boolean ok = askedReady ? ready : live;
            String body = String.format(Locale.ROOT, "{\"job\":\"%s\",\"status\":\"%s\",\"live\":%s,\"ready\":%s,"
                            + "\"lastCompletedCheckpointAgeMillis\":%d,\"readyWithinMillis\":%d}\n",
                    job.getJobName().replace("\"", "\\\""), status, live, ready, age, readyWithinMillis);
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "application/json");
            exchange.sendResponseHeaders(ok ? 200 : 503, bytes.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        }
    }

    @Override
    public void close() {
        server.stop(0);
        registry.close();
    }
}
