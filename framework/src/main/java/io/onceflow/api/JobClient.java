package io.onceflow.api;

import java.time.Duration;
import java.util.concurrent.TimeoutException;

/** A handle on a job started with {@link StreamEnvironment#executeAsync(String)}. */
public interface JobClient extends AutoCloseable {

    String getJobName();

    JobStatus getStatus();

    JobMetrics getMetrics();

    /**
     * Every counter operators registered (records sent to a dead-letter topic, records lost to an
     * accepted offset reset, commits given up after a transaction timeout, ...), summed over subtasks
     * and restarts, as {@code <operator uid>.<name>}.
     */
    java.util.Map<String, Long> getCounters();

    /**
     * Every gauge operators registered (such as a Kafka source's {@code recordsLag} per partition), its
     * known values summed over subtasks and tags, as {@code <operator uid>.<name>}; a gauge with no known
     * value yet is left out.
     */
    default java.util.Map<String, Double> getGauges() {
        return java.util.Map.of();
    }

    /** The most recent completed checkpoints (up to 1000), oldest first. */
    java.util.List<CheckpointStats> getCompletedCheckpoints();

    /**
     * Stops gracefully: the sources read nothing after one last checkpoint, every sink commits it, and
     * the job ends with status {@link JobStatus#CANCELED}. Returns only after the commits, so a
     * {@code read_committed} consumer sees everything read up to that checkpoint. A later start with the
     * same name and storage continues from it. Returns its id, or -1 when the job had already ended.
     * When that checkpoint fails (a storage error, a decline), another is taken, until {@code timeout}.
     *
     * @throws IllegalStateException when no last checkpoint completed within {@code timeout} (the stop is
     *         given up and the job reads on), when the job ended meanwhile, or when the job failed after
     *         the checkpoint and before its sinks committed (the next start commits)
     * @throws java.util.concurrent.TimeoutException when a last checkpoint was still running at
     *         {@code timeout} (the job reads on)
     */
    long stop(Duration timeout) throws Exception;

    /** The port of the job's metrics endpoint ({@code StreamEnvironment.enableMetricsEndpoint}), or -1 when off. */
    default int getMetricsPort() {
        return -1;
    }

    /** Cancels at once; in-flight data is replayed from the latest checkpoint on the next start. */
    void cancel();

    /**
     * Waits for the job to end.
     *
     * @throws JobExecutionException when it failed
     */
    JobStatus awaitTermination(Duration timeout) throws JobExecutionException, TimeoutException, InterruptedException;

    /** Cancels the job if it is still running and waits for it to end. */
    @Override
    void close();
}
