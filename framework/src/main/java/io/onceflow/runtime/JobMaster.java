package io.onceflow.runtime;

import io.onceflow.api.CheckpointConfig;
import io.onceflow.api.CheckpointRetention;
import io.onceflow.api.JobClient;
import io.onceflow.api.JobExecutionException;
import io.onceflow.api.JobMetrics;
import io.onceflow.api.JobStatus;
import io.onceflow.runtime.checkpoint.CheckpointCoordinator;
import io.onceflow.runtime.graph.ExecutionPlan;
import io.onceflow.runtime.graph.JobSpec;
import io.onceflow.runtime.restart.RestartBackoff;
import io.onceflow.runtime.storage.CheckpointMetadata;
import io.onceflow.runtime.storage.CheckpointStorage;
import io.onceflow.runtime.storage.JobCheckpointStore;
import io.onceflow.runtime.storage.MemoryCheckpointStorage;
import java.io.IOException;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one job: deploys an attempt, watches it, and on failure asks the restart strategy whether and
 * when to deploy the next one from the latest completed checkpoint. Also the {@link JobClient} handed
 * to the user.
 */
public final class JobMaster implements JobClient {

    private static final Logger LOG = LoggerFactory.getLogger(JobMaster.class);

    private final JobSpec spec;
    private final ExecutionPlan plan;
    private final JobCheckpointStore store;
    private final CheckpointCoordinator coordinator;
    private final RestartBackoff backoff;
    private final ExecutorService snapshotExecutor;
    private final CompletableFuture<JobStatus> termination = new CompletableFuture<>();
    private final Object lock = new Object();

    private volatile JobStatus status = JobStatus.CREATED;
    private volatile Attempt current;
    private volatile boolean cancelRequested;
    private volatile boolean stopRequested;
    private volatile Throwable failureCause;
    private volatile long numRestarts;
    private long recordsInBefore;
    private long recordsOutBefore;

    private JobMaster(JobSpec spec, ExecutionPlan plan, JobCheckpointStore store, CheckpointCoordinator coordinator) {
        this.spec = spec;
        this.plan = plan;
        this.store = store;
        this.coordinator = coordinator;
        this.backoff = RestartBackoff.create(spec.restartStrategy(), spec.clock());
        this.snapshotExecutor = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "onceflow snapshot " + spec.jobName());
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Validates the job, finds the checkpoint to resume from, and starts it on its own thread.
     *
     * @throws JobConfigurationException or {@link IllegalStateException} for problems found up front
     */
    public static JobMaster start(JobSpec spec) {
        ExecutionPlan plan = ExecutionPlan.build(spec);
        CheckpointConfig config = spec.checkpointConfig();
        validateConnectors(spec, plan);
        CheckpointStorage storage;
        if (config.getCheckpointStorageInstance() instanceof CheckpointStorage s) {
            storage = s;
        } else if (config.getCheckpointStorage() != null) {
            storage = CheckpointStorage.fromUri(config.getCheckpointStorage());
        } else {
            storage = new MemoryCheckpointStorage();
            if (config.isCheckpointingEnabled()) {
                LOG.warn("Job '{}' keeps its checkpoints in memory: they are lost when the process exits. Set a "
                        + "checkpoint storage directory to resume after a restart.", spec.jobName());
            }
        }
        JobCheckpointStore store = storage.forJob(spec.jobName());
        store.checkWritable();
        CheckpointMetadata restoreFrom = null;
        long highest;
        try {
            highest = store.highestCheckpointId();
            if (config.isResumeFromLatestCheckpoint()) {
                Optional<CheckpointMetadata> latest = store.loadLatestCompleted();
                if (latest.isPresent()) {
                    restoreFrom = latest.get();
                    LOG.info("Job '{}' resumes from checkpoint {} in {}", spec.jobName(), restoreFrom.checkpointId(),
                            store.describe());
                    store.discardAllExcept(Set.of(restoreFrom.checkpointId()));
                }
            }
        } catch (IOException e) {
            throw new JobConfigurationException("Cannot read the checkpoints of job '" + spec.jobName() + "' in "
                    + store.describe() + ": " + e.getMessage() + ". Fix or move the directory, or start fresh with "
                    + "setResumeFromLatestCheckpoint(false)", e);
        }
        if (restoreFrom != null) {
            checkKnownOperators(restoreFrom, plan);
        }
        CheckpointCoordinator coordinator = new CheckpointCoordinator(spec.jobName(), config, store, spec.clock(),
                spec.faults(), restoreFrom, highest);
        JobMaster master = new JobMaster(spec, plan, store, coordinator);
        Thread t = new Thread(master::run, "onceflow job " + spec.jobName());
        t.setDaemon(false);
        master.status = JobStatus.RUNNING;
        t.start();
        return master;
    }

    /** Lets sources and sinks check their configuration against the job's before anything runs. */
    private static void validateConnectors(JobSpec spec, ExecutionPlan plan) {
        java.util.Map<String, Object> shared = new java.util.HashMap<>();
        for (ExecutionPlan.Chain c : plan.chains()) {
            for (io.onceflow.runtime.graph.Transformation t : c.operators()) {
                Object connector = t.getSource() != null ? t.getSource() : t.getConnector();
                if (connector instanceof io.onceflow.api.ValidatesConfiguration v) {
                    String uid = plan.uid(t);
                    int parallelism = plan.parallelism(t);
                    try {
                        v.validate(new io.onceflow.api.ValidatesConfiguration.Context() {
                            @Override
                            public String jobName() {
                                return spec.jobName();
                            }

                            @Override
                            public String operatorUid() {
                                return uid;
                            }

                            @Override
                            public int parallelism() {
                                return parallelism;
                            }

                            @Override
                            public CheckpointConfig checkpointConfig() {
                                return spec.checkpointConfig();
                            }

                            @Override
                            public java.util.Map<String, Object> shared() {
                                return shared;
                            }
                        });
                    } catch (JobConfigurationException | IllegalArgumentException | IllegalStateException e) {
                        throw e;
                    } catch (Exception e) {
                        throw new JobConfigurationException("Operator '" + uid + "' is not configured correctly: "
                                + e.getMessage(), e);
                    }
                }
            }
        }
    }

    private static void checkKnownOperators(CheckpointMetadata metadata, ExecutionPlan plan) {
        Set<String> uids = new java.util.HashSet<>();
        for (ExecutionPlan.Chain c : plan.chains()) {
            c.operators().forEach(t -> uids.add(plan.uid(t)));
        }
        for (CheckpointMetadata.OperatorState op : metadata.operators().values()) {
            boolean hasState = op.subtasks().stream().anyMatch(s -> s.handle() != null);
            if (hasState && !uids.contains(op.uid())) {
                throw new JobConfigurationException("Checkpoint " + metadata.checkpointId() + " of job '"
                        + metadata.jobName() + "' has state for operator uid '" + op.uid() + "', which this job does "
                        + "not have: give the operator back its uid, or start fresh with setResumeFromLatestCheckpoint(false)");
            }
        }
    }

    private void run() {
        int attemptNumber = 0;
        try {
            while (true) {
                Attempt attempt = new Attempt(spec, plan, store, coordinator, snapshotExecutor, attemptNumber,
                        coordinator.getLatestCompleted());
                current = attempt;
                JobStatus outcome = attempt.run(() -> cancelRequested);
                synchronized (lock) {
                    recordsInBefore += attempt.recordsIn();
                    recordsOutBefore += attempt.recordsOut();
                }
                if (outcome == JobStatus.FINISHED) {
                    status = JobStatus.FINISHED;
                    LOG.info("Job '{}' finished", spec.jobName());
                    return;
                }
                if (outcome == JobStatus.CANCELED || cancelRequested) {
                    onCancel();
                    return;
                }
                Throwable cause = attempt.failure();
                if (cause instanceof JobConfigurationException) {
                    fail(cause);
                    return;
                }
                backoff.notifyFailure(cause);
                if (!backoff.canRestart()) {
                    LOG.error("Job '{}' failed and its restart strategy ({}) does not allow another restart",
                            spec.jobName(), backoff, cause);
                    fail(cause);
                    return;
                }
                long delay = backoff.getBackoffMillis();
                status = JobStatus.RESTARTING;
                LOG.warn("Job '{}' attempt {} failed, restarting in {} ms from checkpoint {}: {}", spec.jobName(),
                        attemptNumber, delay, coordinator.getLatestCompletedId(), cause.toString());
                synchronized (lock) {
                    long until = System.currentTimeMillis() + delay;
                    while (!cancelRequested && System.currentTimeMillis() < until) {
                        lock.wait(Math.max(1, until - System.currentTimeMillis()));
                    }
                }
                if (cancelRequested) {
                    onCancel();
                    return;
                }
                numRestarts++;
                attemptNumber++;
                status = JobStatus.RUNNING;
            }
        } catch (Throwable t) {
            fail(t);
        } finally {
            coordinator.shutdown();
            snapshotExecutor.shutdownNow();
            termination.complete(status);
        }
    }

    private void onCancel() {
        status = JobStatus.CANCELED;
        if (!stopRequested && spec.checkpointConfig().getCheckpointRetention() == CheckpointRetention.DELETE_ON_CANCELLATION) {
            try {
                coordinator.shutdown();
                store.discardAllExcept(Set.of());
            } catch (IOException e) {
                LOG.warn("Could not delete the checkpoints of cancelled job '{}' in {}: {}", spec.jobName(),
                        store.describe(), e.toString());
            }
        }
        LOG.info("Job '{}' cancelled", spec.jobName());
    }

    private void fail(Throwable cause) {
        failureCause = cause;
        status = JobStatus.FAILED;
    }

    // ------------------------------------------------------------------ JobClient

    @Override
    public String getJobName() {
        return spec.jobName();
    }

    @Override
    public JobStatus getStatus() {
        return status;
    }

    @Override
    public JobMetrics getMetrics() {
        Attempt a = current;
        long in;
        long out;
        synchronized (lock) {
            in = recordsInBefore;
            out = recordsOutBefore;
        }
        if (a != null && !a.isOver()) {
            in += a.recordsIn();
            out += a.recordsOut();
        }
        return new JobMetrics(status, numRestarts, coordinator.getCompletedCount(), coordinator.getFailedCount(),
                coordinator.getPendingCount(), coordinator.getLatestCompletedId(), coordinator.getLastDurationMillis(),
                coordinator.getLastSizeBytes(), in, out);
    }

    @Override
    public java.util.List<io.onceflow.api.CheckpointStats> getCompletedCheckpoints() {
        return coordinator.getHistory();
    }

    /** Ids of the completed checkpoints kept, oldest first. */
    public java.util.List<Long> getRetainedCheckpointIds() {
        return coordinator.getRetainedIds();
    }

    public long getLastAlignmentNanos() {
        return coordinator.getLastAlignmentNanos();
    }

    @Override
    public long stop(Duration timeout) throws Exception {
        if (status.isTerminal()) {
            return -1;
        }
        long id;
        try {
            id = coordinator.triggerNow().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new IllegalStateException("Stopping job '" + spec.jobName() + "' failed: its final checkpoint failed: "
                    + e.getCause().getMessage(), e.getCause());
        }
        stopRequested = true;
        cancel();
        try {
            termination.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
        return id;
    }

    @Override
    public void cancel() {
        cancelRequested = true;
        synchronized (lock) {
            lock.notifyAll();
        }
        Attempt a = current;
        if (a != null) {
            a.wake();
        }
    }

    @Override
    public JobStatus awaitTermination(Duration timeout) throws JobExecutionException, TimeoutException, InterruptedException {
        JobStatus result;
        try {
            result = timeout == null ? termination.get() : termination.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new JobExecutionException("Job '" + spec.jobName() + "' failed", e.getCause());
        }
        if (result == JobStatus.FAILED) {
            throw new JobExecutionException("Job '" + spec.jobName() + "' failed: " + failureCause, failureCause);
        }
        return result;
    }

    @Override
    public void close() {
        if (!status.isTerminal()) {
            cancel();
        }
        try {
            termination.get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            LOG.warn("Job '{}' did not end within 60 s of close()", spec.jobName());
        }
    }
}
