package io.onceflow.runtime;

import io.onceflow.api.CheckpointConfig;
import io.onceflow.api.CheckpointRetention;
import io.onceflow.api.CheckpointingMode;
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
import io.onceflow.runtime.storage.Ownership;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
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
    private final Ownership ownership;
    /** Completes once the sources and sinks checked their configuration (see {@link #validateConnectors}). */
    private final CompletableFuture<Void> validation;
    private final CheckpointCoordinator coordinator;
    private final RestartBackoff backoff;
    private final ExecutorService snapshotExecutor;
    private final io.onceflow.runtime.metrics.MetricRegistry metrics = new io.onceflow.runtime.metrics.MetricRegistry();
    private final CompletableFuture<JobStatus> termination = new CompletableFuture<>();
    private final Object lock = new Object();

    private volatile JobStatus status = JobStatus.CREATED;
    private volatile Attempt current;
    private volatile boolean cancelRequested;
    private volatile boolean stopRequested;
    /** The job's input ended, and its final checkpoint completed, while a stop was asked for. */
    private volatile boolean finishedWhileStopping;
    private volatile Throwable failureCause;
    private volatile Throwable stopFailure;
    private volatile long numRestarts;
    private long recordsInBefore;
    private long recordsOutBefore;
    // how long the last attempt that restored a checkpoint took to read its state; -1 before any did (guarded by lock)
    private long lastRestoreMillis = -1;
    private final java.util.Map<TaskKey, long[]> taskRecordsBefore = new java.util.LinkedHashMap<>();
    private volatile AutoCloseable metricsEndpoint;
    private volatile int metricsPort = -1;

    /** A task of the job, as its metrics name it: chain name and subtask index. */
    public record TaskKey(String task, int subtask) {
        // equals and hashCode written out: a record's own are linked through method handles at their first call,
        // milliseconds of a cold JVM each; see RecordMethodsAtStartTest
        @Override
        public boolean equals(Object o) {
            return o instanceof TaskKey k && k.subtask == subtask && Objects.equals(k.task, task);
        }

        @Override
        public int hashCode() {
            return Objects.hashCode(task) * 31 + subtask;
        }
    }

    private JobMaster(JobSpec spec, ExecutionPlan plan, JobCheckpointStore store, CheckpointCoordinator coordinator,
                      Ownership ownership, CompletableFuture<Void> validation) {
        this.ownership = ownership;
        this.validation = validation;
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
     * <p>The sources and sinks check their configuration on a thread of their own (a Kafka sink asks the broker for
     * its transaction limit: in a fresh process the first Kafka client's start takes most of a second), while this
     * thread reads the checkpoint and the job's thread restores its state from it. Nothing runs before the checks
     * passed: the first attempt's tasks start only then, and this returns only then. When a check fails, the job's
     * thread stops before any task started and this throws the check's exception, as it would have before
     * anything else was done.
     *
     * @throws JobConfigurationException or {@link IllegalStateException} for problems found up front
     */
    public static JobMaster start(JobSpec spec) {
        ExecutionPlan plan = ExecutionPlan.build(spec);
        CompletableFuture<Void> validation = new CompletableFuture<>();
        Thread validator = new Thread(() -> {
            try {
                validateConnectors(spec, plan);
                validation.complete(null);
            } catch (Throwable t) {
                validation.completeExceptionally(t);
            }
        }, "onceflow validate " + spec.jobName());
        validator.setDaemon(true);
        validator.setContextClassLoader(Thread.currentThread().getContextClassLoader());
        validator.start();
        JobMaster master;
        try {
            master = prepareAndStart(spec, plan, validation);
        } catch (RuntimeException | Error e) {
            Throwable invalid = validationFailure(validation);
            if (invalid != null) {
                invalid.addSuppressed(e);
                throw unchecked(invalid);
            }
            throw e;
        }
        Throwable invalid = validationFailure(validation);
        if (invalid != null) {
            master.termination.join(); // its thread stops before any task started
            throw unchecked(invalid);
        }
        return master;
    }

    /** What {@link #validateConnectors} threw: an unchecked exception or an error, as it declares nothing else. */
    private static RuntimeException unchecked(Throwable t) {
        if (t instanceof Error e) {
            throw e;
        }
        return (RuntimeException) t;
    }

    /** Waits for the sources' and sinks' checks; what one of them threw, or null when they passed. */
    static Throwable validationFailure(CompletableFuture<Void> validation) {
        return validation.handle((ok, failure) -> failure).join();
    }

    private static JobMaster prepareAndStart(JobSpec spec, ExecutionPlan plan, CompletableFuture<Void> validation) {
        CheckpointConfig config = spec.checkpointConfig();
        CheckpointStorage storage;
        if (config.getCheckpointStorageInstance() instanceof CheckpointStorage s) {
            storage = s;
        } else if (config.getCheckpointStorage() != null) {
            storage = CheckpointStorage.fromUri(config.getCheckpointStorage());
        } else {
            if (config.isCheckpointingEnabled() && config.getCheckpointingMode() == CheckpointingMode.EXACTLY_ONCE) {
                throw new JobConfigurationException("Job '" + spec.jobName() + "' is EXACTLY_ONCE but has no checkpoint "
                        + "storage, so its checkpoints would live in memory only: after a restart of the process it "
                        + "would start again from its sources' initial positions and write its output a second time. "
                        + "Set a directory with getCheckpointConfig().setCheckpointStorage(\"file:///path/to/checkpoints\"), "
                        + "or, where repeated output after a process restart is acceptable (tests), ask for memory "
                        + "explicitly with setCheckpointStorage(\"" + CheckpointStorage.MEMORY_URI + "\")");
            }
            storage = new MemoryCheckpointStorage();
            if (config.isCheckpointingEnabled()) {
                LOG.warn("Job '{}' keeps its checkpoints in memory: they are lost when the process exits. Set a "
                        + "checkpoint storage directory to resume after a restart.", spec.jobName());
            }
        }
        JobCheckpointStore store = storage.forJob(spec.jobName());
        store.checkWritable();
        Ownership ownership;
        try {
            ownership = store.acquireOwnership(config.isTakeOver());
        } catch (IOException e) {
            throw new JobConfigurationException("Cannot lock the checkpoints of job '" + spec.jobName() + "' in "
                    + store.describe() + " for this process: " + e.getMessage(), e);
        }
        try {
            return start(spec, plan, config, store, ownership, validation);
        } catch (RuntimeException | Error e) {
            ownership.release();
            throw e;
        }
    }

    private static JobMaster start(JobSpec spec, ExecutionPlan plan, CheckpointConfig config, JobCheckpointStore store,
                                   Ownership ownership, CompletableFuture<Void> validation) {
        CheckpointMetadata restoreFrom = null;
        List<Long> retained = List.of();
        long highest;
        try {
            highest = store.highestCheckpointId();
            if (config.isResumeFromLatestCheckpoint()) {
                Optional<CheckpointMetadata> latest = store.loadLatestCompleted();
                if (latest.isPresent()) {
                    restoreFrom = latest.get();
                    LOG.info("Job '{}' resumes from checkpoint {} in {}", spec.jobName(), restoreFrom.checkpointId(),
                            store.describe());
                    // keep the retained completed checkpoints, as promised; only incomplete ones are garbage
                    List<Long> completed = store.completedCheckpointIds();
                    retained = List.copyOf(completed.subList(
                            Math.max(0, completed.size() - config.getNumRetainedCheckpoints()), completed.size()));
                    store.discardAllExcept(new java.util.HashSet<>(retained));
                    store.discardUnreferencedSharedState();
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
                spec.faults(), restoreFrom, retained, highest, ownership);
        JobMaster master = new JobMaster(spec, plan, store, coordinator, ownership, validation);
        if (spec.metricsPort() >= 0) {
            try {
                master.startMetricsEndpoint();
            } catch (RuntimeException | LinkageError e) {
                coordinator.shutdown();
                if (e instanceof LinkageError) {
                    throw new JobConfigurationException("Job '" + spec.jobName() + "' asks for a metrics endpoint, but "
                            + "Micrometer's Prometheus registry is not on the class path: add "
                            + "io.micrometer:micrometer-registry-prometheus to the job's dependencies (" + e + ")");
                }
                throw e;
            }
        }
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

                            @Override
                            public java.util.Set<String> consumedSideOutputs() {
                                return t.consumedSideOutputs();
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
                if (attemptNumber > 0) {
                    ownership.verify(); // a zombie woken after another instance took over must not run again
                }
                Attempt attempt = new Attempt(spec, plan, store, coordinator, snapshotExecutor, attemptNumber,
                        coordinator.getLatestCompleted(), metrics, validation);
                current = attempt;
                JobStatus outcome = attempt.run(() -> cancelRequested);
                if (validation.isCompletedExceptionally()) {
                    // no task started; start() throws what the check found, the attempt's failure
                    fail(attempt.failure());
                    return;
                }
                synchronized (lock) {
                    if (attempt.restoreMillis() >= 0) {
                        lastRestoreMillis = attempt.restoreMillis();
                    }
                    recordsInBefore += attempt.recordsIn();
                    recordsOutBefore += attempt.recordsOut();
                    addTaskRecords(taskRecordsBefore, attempt.taskRecords());
                }
                if (outcome == JobStatus.FINISHED && stopRequested) {
                    // the input ended and the final checkpoint completed while a stop was asked for: stopped
                    finishedWhileStopping = true;
                    onCancel();
                    return;
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
                if (stopRequested) {
                    // a failure while stopping: no restart; the next start commits what the checkpoint holds
                    stopFailure = attempt.failure();
                    onCancel();
                    return;
                }
                Throwable cause = attempt.failure();
                if (io.onceflow.api.NonRecoverableException.isIn(cause)) {
                    Throwable reason = io.onceflow.api.NonRecoverableException.find(cause);
                    try {
                        ownership.verify();
                    } catch (io.onceflow.runtime.storage.OwnershipLostException lost) {
                        // a fenced zombie: its failed commits are the new owner's to make, nothing is lost
                        reason = lost;
                    }
                    LOG.error("Job '{}' stops without a restart, because a restart cannot fix this: {}", spec.jobName(),
                            reason.getMessage());
                    fail(reason);
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
            for (Runnable dropped : snapshotExecutor.shutdownNow()) {
                if (dropped instanceof io.onceflow.runtime.task.StreamTask.PendingSnapshot pending) {
                    pending.abandon();
                }
            }
            awaitSnapshotThreads();
            ownership.release();
            AutoCloseable endpoint = metricsEndpoint;
            if (endpoint != null) {
                try {
                    endpoint.close();
                } catch (Exception e) {
                    LOG.debug("Closing the metrics endpoint of job '{}' failed: {}", spec.jobName(), e.toString());
                }
            }
            termination.complete(status);
        }
    }

    /**
     * Waits for the snapshot being written when the job ended (interrupted by the shutdown): what it reads, such as
     * a RocksDB database, closes only once it is done, so the job has ended when its working directories are gone.
     */
    private void awaitSnapshotThreads() {
        try {
            if (!snapshotExecutor.awaitTermination(30, TimeUnit.SECONDS)) {
                LOG.warn("Job '{}': a snapshot still being written 30 s after the job ended; not waiting longer",
                        spec.jobName());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
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
        LOG.info("Job '{}' {}", spec.jobName(), stopRequested ? "stopped" : "cancelled");
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
        long restore;
        synchronized (lock) {
            in = recordsInBefore;
            out = recordsOutBefore;
            restore = lastRestoreMillis;
        }
        if (a != null && !a.isOver()) {
            in += a.recordsIn();
            out += a.recordsOut();
            restore = a.restoreMillis() >= 0 ? a.restoreMillis() : restore;
        }
        return new JobMetrics(status, numRestarts, coordinator.getCompletedCount(), coordinator.getFailedCount(),
                coordinator.getPendingCount(), coordinator.getLatestCompletedId(), coordinator.getLastDurationMillis(),
                coordinator.getLastSizeBytes(), in, out, restore);
    }

    private void startMetricsEndpoint() {
        long interval = getCheckpointIntervalMillis();
        long readyWithin = interval > 0 ? interval * spec.readyWithinIntervals() : Long.MAX_VALUE;
        io.onceflow.runtime.metrics.PrometheusEndpoint endpoint = io.onceflow.runtime.metrics.PrometheusEndpoint
                .start(this, spec.metricsPort(), readyWithin);
        metricsEndpoint = endpoint;
        metricsPort = endpoint.port();
        LOG.info("Job '{}' serves its metrics at http://localhost:{}/metrics and its health at /health", spec.jobName(),
                metricsPort);
    }

    @Override
    public int getMetricsPort() {
        return metricsPort;
    }

    /** The checkpoint interval, or 0 when checkpointing is off. */
    public long getCheckpointIntervalMillis() {
        CheckpointConfig c = spec.checkpointConfig();
        return c.isCheckpointingEnabled() ? c.getCheckpointInterval().toMillis() : 0;
    }

    /** Records in and out of every task, summed over the attempts of this process. */
    public java.util.Map<TaskKey, long[]> getTaskRecords() {
        Attempt a = current;
        java.util.Map<TaskKey, long[]> records = new java.util.LinkedHashMap<>();
        synchronized (lock) {
            taskRecordsBefore.forEach((k, v) -> records.put(k, v.clone()));
        }
        if (a != null && !a.isOver()) {
            addTaskRecords(records, a.taskRecords());
        }
        return records;
    }

    private static void addTaskRecords(java.util.Map<TaskKey, long[]> sums, java.util.Map<TaskKey, long[]> more) {
        more.forEach((k, v) -> sums.merge(k, v, (x, y) -> new long[] {x[0] + y[0], x[1] + y[1]}));
    }

    /** Every counter of the job's operators. */
    public io.onceflow.runtime.metrics.MetricRegistry getMetricRegistry() {
        return metrics;
    }

    @Override
    public java.util.Map<String, Long> getCounters() {
        return metrics.sums();
    }

    @Override
    public java.util.Map<String, Double> getGauges() {
        return metrics.gaugeSums();
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
        long deadline = System.nanoTime() + timeout.toNanos();
        long id;
        String lastStopFailure = null;
        int stopTries = 0;
        stopRequested = true;
        while (true) {
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            try {
                id = coordinator.triggerStop().get(Math.max(1, left), TimeUnit.MILLISECONDS);
                break;
            } catch (ExecutionException e) {
                left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                if (finishedWhileStopping) {
                    // the stop's checkpoint lost the race with the job's own final one, which covers everything
                    id = coordinator.getLatestCompletedId();
                    break;
                }
                if (status.isTerminal() || left < 200) {
                    stopRequested = false;
                    coordinator.resumeAfterStop();
                    throw new IllegalStateException("Stopping job '" + spec.jobName() + "' failed: its final checkpoint "
                            + "failed" + (status.isTerminal() ? " and the job ended (" + status + ")" : left < 200
                            ? " and the stop's timeout of " + timeout.toMillis() + " ms has passed; the job reads on"
                            : "") + ": " + e.getCause().getMessage(), e.getCause());
                }
                // the sources read nothing since the first try, so another checkpoint covers the same input;
                // or the job is between attempts (restarting, restoring): its next attempt takes it
                String cause = e.getCause().toString();
                if (!cause.equals(lastStopFailure)) {
                    LOG.warn("The final checkpoint of stopping job '{}' failed ({}); taking another", spec.jobName(), cause);
                } else {
                    LOG.debug("The final checkpoint of stopping job '{}' failed again ({})", spec.jobName(), cause);
                }
                lastStopFailure = cause;
                Thread.sleep(Math.min(1000, 100L << Math.min(stopTries++, 4)));
            } catch (TimeoutException e) {
                stopRequested = false;
                coordinator.resumeAfterStop();
                throw new TimeoutException("Stopping job '" + spec.jobName() + "' timed out after "
                        + timeout.toMillis() + " ms waiting for its final checkpoint; the job reads on");
            }
        }
        // the tasks run the completion notice (the sinks commit) before they end
        Attempt a = current;
        if (a != null) {
            a.finishTasks();
        }
        try {
            termination.get(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
        if (stopFailure != null) {
            throw new IllegalStateException("Job '" + spec.jobName() + "' took its final checkpoint " + id
                    + " but failed before its sinks committed it: " + stopFailure + ". The next start with the same "
                    + "name and storage commits it", stopFailure);
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
