package io.onceflow.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.JobClient;
import io.onceflow.api.JobStatus;
import io.onceflow.api.RestartStrategies;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.testing.CommittedStore;
import io.onceflow.testing.RunningCount;
import io.onceflow.testing.SequenceSource;
import io.onceflow.testing.TransactionalTestSink;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A running job's Prometheus endpoint, scraped over HTTP as Prometheus would. */
class MetricsEndpointTest {

    @TempDir
    Path dir;

    private final HttpClient http = HttpClient.newHttpClient();

    private HttpResponse<String> get(int port, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(10))
                .build(), HttpResponse.BodyHandlers.ofString());
    }

    /** Sample values by their full name with labels, as the text format writes them. */
    private static Map<String, Double> samples(String text) {
        Map<String, Double> samples = new HashMap<>();
        Matcher m = Pattern.compile("(?m)^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\\{[^}]*\\})?) ([-+0-9.eE]+|NaN)$").matcher(text);
        while (m.find()) {
            samples.put(m.group(1), m.group(2).equals("NaN") ? Double.NaN : Double.parseDouble(m.group(2)));
        }
        return samples;
    }

    private static double sum(Map<String, Double> samples, String prefix) {
        return samples.entrySet().stream().filter(e -> e.getKey().startsWith(prefix)).mapToDouble(Map.Entry::getValue).sum();
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Thread.sleep(20);
        }
    }

    @Test
    void aRunningJobServesItsMetricsAndHealth() throws Exception {
        CommittedStore store = CommittedStore.inDirectory(dir.resolve("out"));
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(2);
        env.enableCheckpointing(Duration.ofMillis(100));
        env.getCheckpointConfig().setCheckpointStorage("memory:");
        env.setRestartStrategy(RestartStrategies.noRestart());
        // ready while the last completed checkpoint is younger than 5 s: a healthy job on a slow machine can take
        // longer than the default three 100 ms intervals between two completions (readiness dropping is tested below)
        env.enableMetricsEndpoint(0, 50);
        var counts = env.fromSource(SequenceSource.unbounded(2, 50).throttled(5_000), "sequence").uid("source")
                .keyBy(w -> w)
                .process(new RunningCount()).uid("count");
        counts.sinkTo(new TransactionalTestSink(store)).uid("sink");
        // a sink without a committer: its output is visible at the barrier
        counts.sinkTo(context -> element -> {
        }).uid("discard");
        JobClient job = env.executeAsync("metrics-test");
        try {
            int port = job.getMetricsPort();
            assertTrue(port > 0, "a free port was picked: " + port);
            await(() -> job.getMetrics().numberOfCompletedCheckpoints() >= 3, "3 checkpoints completed");
            // a sink commits when the completion notice reaches its task, after the checkpoint completed
            await(() -> sum(scrape(port), "onceflow_operator_commit_latency_seconds_count{") >= 2,
                    "two commits timed");

            HttpResponse<String> response = get(port, "/metrics");
            assertEquals(200, response.statusCode());
            assertTrue(response.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"));
            Map<String, Double> s = samples(response.body());
            assertTrue(s.get("onceflow_checkpoints_completed_total{job=\"metrics-test\"}") >= 3, response.body());
            assertEquals(0.0, s.get("onceflow_checkpoints_failed_total{job=\"metrics-test\"}"));
            assertEquals(1.0, s.get("onceflow_job_status{job=\"metrics-test\",status=\"RUNNING\"}"));
            assertTrue(s.get("onceflow_checkpoint_duration_seconds_count{job=\"metrics-test\"}") >= 3,
                    "every completed checkpoint is in the duration histogram");
            assertTrue(s.keySet().stream().anyMatch(k -> k.startsWith("onceflow_checkpoint_duration_seconds_bucket{")),
                    "a histogram, for quantiles in PromQL");
            assertTrue(s.get("onceflow_job_records_in_total{job=\"metrics-test\"}") > 0);
            assertTrue(s.get("onceflow_job_last_restore_duration_seconds{job=\"metrics-test\"}").isNaN(),
                    "a fresh start restored nothing: " + response.body());
            assertEquals(-1, job.getMetrics().lastRestoreDurationMillis());
            assertTrue(sum(s, "onceflow_task_records_in_total{") > 0, "records in per task");
            assertTrue(s.keySet().stream().anyMatch(k -> k.startsWith("onceflow_task_records_in_total{")
                    && k.contains("subtask=\"1\"")), "per subtask");
            assertTrue(s.keySet().stream().anyMatch(k -> k.startsWith("jvm_memory_used_bytes{")), "JVM metrics too");
            assertTrue(sum(s, "onceflow_operator_records_out{job=\"metrics-test\",operator=\"count\"") > 0,
                    "records out per operator");
            // from the input's timestamp to visible output, per sink: at the commit, and at the barrier without one
            for (String sink : java.util.List.of("sink", "discard")) {
                assertTrue(sum(s, "onceflow_operator_end_to_end_latency_seconds_count{job=\"metrics-test\",operator=\""
                        + sink + "\"") > 0, "end-to-end latency of " + sink + ":\n" + response.body());
            }
            // each checkpoint's commit, per sink subtask, in a histogram: from the completion notice to visible output
            double commits = sum(s, "onceflow_operator_commit_latency_seconds_count{");
            assertTrue(commits >= 2, "the sink's commits are in its commit latency histogram: " + commits);
            assertTrue(s.keySet().stream().anyMatch(k -> k.startsWith("onceflow_operator_commit_latency_seconds_bucket{")
                    && k.contains("operator=\"sink\"")), "with buckets, per sink operator");

            // the counters grow between scrapes
            double before = s.get("onceflow_job_records_in_total{job=\"metrics-test\"}");
            Thread.sleep(300);
            double after = scrape(port).get("onceflow_job_records_in_total{job=\"metrics-test\"}");
            assertTrue(after > before, before + " -> " + after);

            HttpResponse<String> live = get(port, "/health");
            assertEquals(200, live.statusCode(), live.body());
            assertTrue(live.body().contains("\"status\":\"RUNNING\"") && live.body().contains("\"live\":true"), live.body());
            HttpResponse<String> ready = get(port, "/health/ready");
            assertEquals(200, ready.statusCode(), ready.body());
            assertTrue(ready.body().contains("\"ready\":true"), ready.body());
        } finally {
            job.cancel();
            assertEquals(JobStatus.CANCELED, job.awaitTermination(Duration.ofSeconds(30)));
        }
    }

    @Test
    void aJobWhoseCheckpointsStopCompletingIsNotReady() throws Exception {
        CommittedStore store = CommittedStore.inDirectory(dir.resolve("out"));
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(1);
        env.enableCheckpointing(Duration.ofMillis(100));
        env.getCheckpointConfig().setTolerableCheckpointFailureNumber(1_000);
        java.util.concurrent.atomic.AtomicBoolean broken = new java.util.concurrent.atomic.AtomicBoolean();
        env.getCheckpointConfig().setCheckpointStorage(io.onceflow.testing.FailingCheckpointStorage
                .wrap(new io.onceflow.runtime.storage.FileSystemCheckpointStorage(dir.resolve("checkpoints")))
                .failMetadataOf(id -> broken.get()));
        env.setRestartStrategy(RestartStrategies.noRestart());
        env.enableMetricsEndpoint(0, 3);
        env.fromSource(SequenceSource.unbounded(1, 10).throttled(1_000), "sequence").uid("source")
                .keyBy(w -> w)
                .process(new RunningCount()).uid("count")
                .sinkTo(new TransactionalTestSink(store)).uid("sink");
        JobClient job = env.executeAsync("not-ready");
        try {
            int port = job.getMetricsPort();
            await(() -> job.getMetrics().numberOfCompletedCheckpoints() >= 1, "a checkpoint completed");
            await(() -> status(port, "/health/ready") == 200, "ready");
            broken.set(true);
            await(() -> status(port, "/health/ready") == 503, "not ready: no checkpoint completed for 3 intervals");
            assertEquals(200, status(port, "/health"), "still alive");
            // readiness counts intervals since the last completion; a failure is counted when the coordinator ends
            // the checkpoint, which on a slow machine can come after those intervals passed
            await(() -> failedCheckpoints(port) > 0, "a failed checkpoint counted");
            assertEquals(503, status(port, "/health/ready"), "still not ready");
        } finally {
            job.cancel();
            job.awaitTermination(Duration.ofSeconds(30));
        }
    }

    private double failedCheckpoints(int port) {
        return scrape(port).get("onceflow_checkpoints_failed_total{job=\"not-ready\"}");
    }

    private Map<String, Double> scrape(int port) {
        try {
            return samples(get(port, "/metrics").body());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private int status(int port, String path) {
        try {
            return get(port, path).statusCode();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void aTakenPortIsRefusedUpFront() throws Exception {
        try (java.net.ServerSocket taken = new java.net.ServerSocket(0)) {
            StreamEnvironment env = StreamEnvironment.create();
            env.enableCheckpointing(Duration.ofMillis(100));
            env.getCheckpointConfig().setCheckpointStorage("memory:");
            env.enableMetricsEndpoint(taken.getLocalPort());
            env.fromSource(SequenceSource.bounded(1, 10, 2), "sequence").uid("source")
                    .sinkTo(new TransactionalTestSink(CommittedStore.inDirectory(dir.resolve("o")))).uid("sink");
            IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                    () -> env.executeAsync("port-taken"));
            assertTrue(e.getMessage().contains("cannot serve its metrics on port " + taken.getLocalPort())
                    && e.getMessage().contains("Choose a free port"), e.getMessage());
        }
    }
}
