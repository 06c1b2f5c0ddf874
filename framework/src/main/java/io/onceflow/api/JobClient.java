package io.onceflow.api;

import java.time.Duration;
import java.util.concurrent.TimeoutException;

/** A handle on a job started with {@link StreamEnvironment#executeAsync(String)}. */
public interface JobClient extends AutoCloseable {

    String getJobName();

    JobStatus getStatus();

    JobMetrics getMetrics();

    /** The most recent completed checkpoints (up to 1000), oldest first. */
    java.util.List<CheckpointStats> getCompletedCheckpoints();

    /**
     * Stops gracefully: takes one more checkpoint, lets sinks commit it, then cancels. A later start
     * with the same name and storage continues from that checkpoint. Returns its id, or -1 when the
     * job had already ended.
     */
    long stop(Duration timeout) throws Exception;

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
