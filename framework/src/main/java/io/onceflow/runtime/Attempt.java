package io.onceflow.runtime;

import io.onceflow.api.JobStatus;
import io.onceflow.api.functions.KeySelector;
import io.onceflow.api.source.Source;
import io.onceflow.api.source.SourceSplit;
import io.onceflow.runtime.checkpoint.CheckpointCoordinator;
import io.onceflow.runtime.graph.ExecutionPlan;
import io.onceflow.runtime.graph.JobSpec;
import io.onceflow.runtime.graph.Partitioning;
import io.onceflow.runtime.graph.Transformation;
import io.onceflow.runtime.io.InputGate;
import io.onceflow.runtime.io.Partitioner;
import io.onceflow.runtime.io.RecordWriter;
import io.onceflow.runtime.state.HeapKeyedStateBackend;
import io.onceflow.runtime.state.KeyedEntrySink;
import io.onceflow.runtime.state.KeyedStateBackend;
import io.onceflow.runtime.state.KeyGroupRange;
import io.onceflow.runtime.state.KeyGroups;
import io.onceflow.runtime.state.Bytes;
import io.onceflow.runtime.state.OperatorStateBackend;
import io.onceflow.runtime.state.VersionedTypeSerializer;
import io.onceflow.runtime.storage.CheckpointMetadata;
import io.onceflow.runtime.storage.JobCheckpointStore;
import io.onceflow.runtime.task.ChainedOperator;
import io.onceflow.runtime.task.SinkOperator;
import io.onceflow.runtime.task.SourceOperator;
import io.onceflow.runtime.task.StreamOperator;
import io.onceflow.runtime.task.StreamTask;
import io.onceflow.runtime.task.TaskGateway;
import io.onceflow.runtime.task.TaskInfo;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One deployment of the job: every subtask of every chain, restored from one checkpoint (or fresh),
 * wired by bounded channels. Ends when all tasks finished, when one failed (all are then cancelled),
 * or on cancellation.
 */
final class Attempt implements TaskGateway, CheckpointCoordinator.AttemptContext {

    private static final Logger LOG = LoggerFactory.getLogger(Attempt.class);
    private static final int RESTORE_PROGRESS_SECONDS = 5;

    private final JobSpec spec;
    private final ExecutionPlan plan;
    private final JobCheckpointStore store;
    private final CheckpointCoordinator coordinator;
    private final ExecutorService snapshotExecutor;
    private final int number;
    private final CheckpointMetadata restoreFrom;
    private volatile long restoreMillis = -1;
    private final io.onceflow.runtime.metrics.MetricRegistry metrics;
    /** The sources' and sinks' configuration checks, which end before any task starts. */
    private final java.util.concurrent.CompletableFuture<Void> validation;

    // filled while deploying, read by metrics from other threads meanwhile
    private final List<StreamTask> tasks = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final List<StreamTask> sourceTasks = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final List<SinkOperator<?, ?, ?>> sinks = new java.util.concurrent.CopyOnWriteArrayList<>();
    /** Every keyed backend created; the tasks close theirs, these are closed if deployment fails. */
    private final List<KeyedStateBackend> backends = new ArrayList<>();
    private final Map<String, int[]> operators = new LinkedHashMap<>();

    private Throwable failure;
    private int finished;
    private final java.util.concurrent.atomic.AtomicInteger started = new java.util.concurrent.atomic.AtomicInteger();
    private int endOfInput;
    private volatile boolean over;

    Attempt(JobSpec spec, ExecutionPlan plan, JobCheckpointStore store,
            CheckpointCoordinator coordinator, ExecutorService snapshotExecutor, int number,
            CheckpointMetadata restoreFrom, io.onceflow.runtime.metrics.MetricRegistry metrics,
            java.util.concurrent.CompletableFuture<Void> validation) {
        this.spec = spec;
        this.plan = plan;
        this.store = store;
        this.coordinator = coordinator;
        this.snapshotExecutor = snapshotExecutor;
        this.number = number;
        this.restoreFrom = restoreFrom;
        this.metrics = metrics;
        this.validation = validation;
    }

    Throwable failure() {
        return failure;
    }

    boolean isOver() {
        return over;
    }

    /** How long this attempt took to read its checkpoint's state into every operator; -1 if it restored none (yet). */
    long restoreMillis() {
        return restoreMillis;
    }

    long recordsIn() {
        long n = 0;
        for (StreamTask t : sourceTasks) {
            n += t.getNumRecordsIn();
        }
        return n;
    }

    /** Records in and out of each task of this attempt, by chain name and subtask. */
    Map<JobMaster.TaskKey, long[]> taskRecords() {
        Map<JobMaster.TaskKey, long[]> records = new LinkedHashMap<>();
        for (StreamTask t : tasks) {
            records.put(new JobMaster.TaskKey(t.getChainName(), t.getSubtaskIndex()),
                    new long[] {t.getNumRecordsIn(), t.getNumRecordsOut()});
        }
        return records;
    }

    long recordsOut() {
        long n = 0;
        for (SinkOperator<?, ?, ?> s : sinks) {
            n += s.getNumRecordsWritten();
        }
        return n;
    }

    /** Deploys, runs and tears down this attempt; returns FINISHED, FAILED or CANCELED. */
    JobStatus run(BooleanSupplier cancelRequested) {
        Throwable deployFailure = null;
        try {
            deploy(); // reads the restored state while the checks run; starts nothing
        } catch (Throwable t) {
            deployFailure = t;
        }
        Throwable invalid = JobMaster.validationFailure(validation);
        if (invalid != null || deployFailure != null) {
            backends.forEach(KeyedStateBackend::close);
            if (invalid == null) {
                LOG.warn("Job '{}' attempt {} could not be deployed: {}", spec.jobName(), number,
                        deployFailure.toString());
            }
            failure = invalid != null ? invalid : deployFailure;
            over = true;
            return JobStatus.FAILED;
        }
        for (StreamTask t : tasks) {
            t.start();
        }
        coordinator.startAttempt(this);
        JobStatus result;
        synchronized (this) {
            try {
                while (failure == null && finished < tasks.size() && !cancelRequested.getAsBoolean()) {
                    wait(100);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                failure = e;
            }
            result = failure != null ? JobStatus.FAILED
                    : finished == tasks.size() ? JobStatus.FINISHED : JobStatus.CANCELED;
        }
        coordinator.stopAttempt();
        over = true;
        if (result != JobStatus.FINISHED) {
            cancelTasks();
        }
        joinTasks();
        return result;
    }

    synchronized void wake() {
        notifyAll();
    }

    private void cancelTasks() {
        for (StreamTask t : tasks) {
            t.cancel();
        }
    }

    private void joinTasks() {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        for (StreamTask t : tasks) {
            Thread th = t.getThread();
            if (th == null) {
                continue;
            }
            try {
                th.join(2000);
                if (th.isAlive()) {
                    // stuck in user code that ignores cancellation: interrupt it
                    th.interrupt();
                    th.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
                }
                if (th.isAlive()) {
                    LOG.error("Task {} did not stop within 30 s of cancellation; abandoning its thread", t.getName());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    // ------------------------------------------------------------------ deployment

    private void deploy() throws Exception {
        int maxP = spec.maxParallelism();
        StateAssignment assignment = new StateAssignment(restoreFrom, store, maxP);
        OptionalLong restoredId = restoreFrom == null ? OptionalLong.empty() : OptionalLong.of(restoreFrom.checkpointId());
        TaskInfo info = new TaskInfo(spec.jobName(), number, spec.checkpointConfig().getCheckpointingMode(), restoredId,
                spec.faults(), store, spec.checkpointConfig().getInlineStateThresholdBytes(), snapshotExecutor, this, metrics);

        // by identity: the plan's chains are its own objects (a record's own hashCode, linked through method handles at
        // its first call, would cost a cold JVM milliseconds and hash every operator of the chain)
        Map<ExecutionPlan.Chain, InputGate[]> gates = new java.util.IdentityHashMap<>();
        for (ExecutionPlan.Chain c : plan.chains()) {
            for (Transformation t : c.operators()) {
                operators.put(plan.uid(t), new int[] {c.parallelism(), maxP});
            }
            if (c.upstream() != null) {
                int channels = c.inputPartitioning() == Partitioning.FORWARD ? 1 : c.upstream().parallelism();
                InputGate[] g = new InputGate[c.parallelism()];
                for (int i = 0; i < g.length; i++) {
                    g[i] = new InputGate(channels, spec.channelCapacity());
                }
                gates.put(c, g);
            }
        }
        long restoreStarted = System.nanoTime();
        Map<String, Prepared> prepared = prepare(assignment);
        if (restoreFrom != null) {
            restoreMillis = (System.nanoTime() - restoreStarted) / 1_000_000;
            LOG.info("Job '{}' attempt {} read the state of checkpoint {} in {} ms", spec.jobName(), number,
                    restoreFrom.checkpointId(), restoreMillis);
        }
        int taskIndex = 0;
        for (ExecutionPlan.Chain c : plan.chains()) {
            Map<Transformation, List<? extends SourceSplit>[]> initialSplits = new HashMap<>();
            Map<Transformation, Set<String>> splitIdsAtStart = new HashMap<>();
            for (int i = 0; i < c.parallelism(); i++) {
                List<RecordWriter> writers = new ArrayList<>();
                Map<String, List<RecordWriter>> sideWriters = new HashMap<>();
                for (ExecutionPlan.Chain d : plan.chains()) {
                    if (d.upstream() == c) {
                        RecordWriter w = writerFor(c, d, i, gates.get(d));
                        Transformation head = d.head();
                        if (head.getKind() == Transformation.Kind.SIDE_OUTPUT) {
                            sideWriters.computeIfAbsent(StreamTask.sideOutputKey(plan.uid(head.getInput()),
                                    head.getSideOutputTag().getId()), k -> new ArrayList<>()).add(w);
                        } else {
                            writers.add(w);
                        }
                    }
                }
                List<ChainedOperator> chain = new ArrayList<>();
                for (Transformation t : c.operators()) {
                    chain.add(createOperator(t, c, i, prepared.get(plan.uid(t) + "/" + i), initialSplits,
                            splitIdsAtStart, assignment));
                }
                InputGate gate = c.upstream() == null ? new InputGate(0, 1) : gates.get(c)[i];
                StreamTask task = new StreamTask(taskIndex++, c.name(), i, c.parallelism(), info, chain, gate, writers,
                        sideWriters, c.upstream() == null);
                tasks.add(task);
                if (task.isSource()) {
                    sourceTasks.add(task);
                }
            }
        }
    }

    private RecordWriter writerFor(ExecutionPlan.Chain up, ExecutionPlan.Chain down, int subtask, InputGate[] downGates) {
        if (down.inputPartitioning() == Partitioning.FORWARD) {
            return new RecordWriter(new InputGate.Channel[] {downGates[subtask].channel(0)}, r -> 0, spec.batchSize());
        }
        InputGate.Channel[] targets = new InputGate.Channel[downGates.length];
        for (int j = 0; j < downGates.length; j++) {
            targets[j] = downGates[j].channel(subtask);
        }
        Partitioner partitioner;
        if (down.inputPartitioning() == Partitioning.HASH) {
            KeySelector<Object, Object> selector = down.head().getKeySelector();
            int maxP = spec.maxParallelism();
            int n = targets.length;
            partitioner = record -> KeyGroups.subtaskForKey(selector.getKey(record), maxP, n);
        } else {
            int n = targets.length;
            int[] next = {subtask % n};
            partitioner = record -> {
                int t = next[0];
                next[0] = t + 1 == n ? 0 : t + 1;
                return t;
            };
        }
        return new RecordWriter(targets, partitioner, spec.batchSize());
    }

    /** One operator subtask's keyed backend (null when not keyed) and what the checkpoint restored from gave it. */
    private record Prepared(KeyedStateBackend keyed, StateAssignment.Restored restored) {
    }

    /**
     * Creates the keyed backend of every operator subtask and reads its state from the checkpoint restored
     * from, by key {@code uid/subtask}. After a restore the subtasks read in parallel, each its own files:
     * one after another on this thread, their reads would add up before any task could start. A read that takes
     * long (large heap state) is reported every {@value #RESTORE_PROGRESS_SECONDS} s.
     */
    private Map<String, Prepared> prepare(StateAssignment assignment) throws Exception {
        Map<String, FutureTask<Prepared>> work = new LinkedHashMap<>();
        for (ExecutionPlan.Chain c : plan.chains()) {
            for (Transformation t : c.operators()) {
                for (int i = 0; i < c.parallelism(); i++) {
                    int subtask = i;
                    work.put(plan.uid(t) + "/" + i, new FutureTask<>(() -> prepareSubtask(t, c, subtask, assignment)));
                }
            }
        }
        int threads = Math.min(Runtime.getRuntime().availableProcessors(), work.size());
        ExecutorService pool = restoreFrom == null || threads < 1 ? null : Executors.newFixedThreadPool(threads, r -> {
            Thread th = new Thread(r, "onceflow restore " + spec.jobName());
            th.setDaemon(true);
            return th;
        });
        try {
            work.values().forEach(pool != null ? pool::execute : FutureTask::run);
            // every subtask's outcome, so that each backend made is closed with the attempt if another failed;
            // reads are not cut short by an interrupt (one thread reading them did not stop either)
            Map<String, Prepared> result = new LinkedHashMap<>();
            Throwable failure = null;
            boolean interrupted = false;
            long started = System.nanoTime();
            long nextReport = started + TimeUnit.SECONDS.toNanos(RESTORE_PROGRESS_SECONDS);
            for (Map.Entry<String, FutureTask<Prepared>> w : work.entrySet()) {
                while (true) {
                    try {
                        Prepared p;
                        try {
                            p = w.getValue().get(Math.max(0, nextReport - System.nanoTime()), TimeUnit.NANOSECONDS);
                        } catch (java.util.concurrent.TimeoutException e) {
                            long read = work.values().stream().filter(FutureTask::isDone).count();
                            LOG.info("Job '{}' attempt {} is still reading the state of checkpoint {}: {} of {} operator "
                                    + "subtasks read in {} s", spec.jobName(), number, restoreFrom.checkpointId(), read,
                                    work.size(), TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started));
                            nextReport += TimeUnit.SECONDS.toNanos(RESTORE_PROGRESS_SECONDS);
                            continue;
                        }
                        result.put(w.getKey(), p);
                        if (p.keyed() != null) {
                            backends.add(p.keyed());
                        }
                        break;
                    } catch (ExecutionException e) {
                        failure = failure != null ? failure : e.getCause();
                        break;
                    } catch (InterruptedException e) {
                        interrupted = true;
                    }
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            if (failure instanceof Exception e) {
                throw e;
            }
            if (failure != null) {
                throw (Error) failure;
            }
            return result;
        } finally {
            if (pool != null) {
                pool.shutdown();
            }
        }
    }

    private Prepared prepareSubtask(Transformation t, ExecutionPlan.Chain c, int subtask, StateAssignment assignment)
            throws Exception {
        String uid = plan.uid(t);
        int p = c.parallelism();
        KeyGroupRange range = t.isKeyed() ? KeyGroups.rangeFor(spec.maxParallelism(), p, subtask) : null;
        KeyedStateBackend keyed = null;
        if (t.isKeyed()) {
            keyed = spec.stateBackend() instanceof io.onceflow.api.RocksDBStateBackend rocks
                    ? new io.onceflow.runtime.state.rocksdb.RocksDBKeyedStateBackend(spec.jobName(), uid, subtask,
                            t.getKeySerializer(), spec.maxParallelism(), range, rocks)
                    : new HeapKeyedStateBackend(uid, t.getKeySerializer(), spec.maxParallelism(), range,
                            !(spec.stateBackend() instanceof io.onceflow.api.HeapStateBackend heap)
                                    || heap.incrementalCheckpoints(), HeapKeyedStateBackend.BACKGROUND);
        }
        try {
            return new Prepared(keyed, assignment.assign(uid, subtask, p, range, (KeyedEntrySink) keyed));
        } catch (Exception | Error e) {
            if (keyed != null) {
                keyed.close();
            }
            throw e;
        }
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private ChainedOperator createOperator(Transformation t, ExecutionPlan.Chain c, int subtask, Prepared prepared,
                                           Map<Transformation, List<? extends SourceSplit>[]> initialSplits,
                                           Map<Transformation, Set<String>> splitIdsAtStart,
                                           StateAssignment assignment) throws Exception {
        String uid = plan.uid(t);
        int p = c.parallelism();
        KeyGroupRange range = t.isKeyed() ? KeyGroups.rangeFor(spec.maxParallelism(), p, subtask) : null;
        KeyedStateBackend keyed = prepared.keyed();
        StateAssignment.Restored restored = prepared.restored();
        OperatorStateBackend opState = new OperatorStateBackend(restored.operatorLists());
        StreamOperator<?, ?> operator;
        if (t.getKind() == Transformation.Kind.SOURCE) {
            List<? extends SourceSplit> splits = null;
            Set<String> ids = splitIdsAtStart.get(t);
            if (!restored.found()) {
                List<? extends SourceSplit>[] perSubtask = initialSplits.computeIfAbsent(t, x -> splitsFor(t, p));
                splits = perSubtask[subtask];
                if (ids == null) {
                    ids = new HashSet<>();
                    for (List<? extends SourceSplit> l : perSubtask) {
                        for (SourceSplit s : l) {
                            ids.add(s.splitId());
                        }
                    }
                }
            } else if (ids == null) {
                // every subtask's splits, whichever share of them this subtask restores: a split not among them is new
                ids = new HashSet<>();
                VersionedTypeSerializer<? extends SourceSplit> serializer =
                        new VersionedTypeSerializer<>(t.getSource().getSplitSerializer());
                for (byte[] b : assignment.allElements(uid, SourceOperator.SPLITS_STATE)) {
                    ids.add(Bytes.fromBytes(serializer, b).splitId());
                }
            }
            splitIdsAtStart.put(t, ids);
            operator = new SourceOperator((Source) t.getSource(), splits, ids);
        } else {
            operator = t.getOperatorFactory().create();
            if (operator instanceof SinkOperator<?, ?, ?> sink) {
                sinks.add(sink);
            }
            if (t.getFailureTag() != null) {
                if (!(operator instanceof io.onceflow.runtime.task.UdfOperator<?, ?, ?> udf)) {
                    throw new JobConfigurationException("Operator '" + uid + "' cannot catch failures of its function "
                            + "(catchFailures): it is not a map, flatMap, filter or process operator");
                }
                udf.catchFailures(t.getFailureTag(), t.getMaxFailuresPerCheckpoint());
            }
        }
        return new ChainedOperator(uid, operator, opState, keyed, t.getKeySelector(), range);
    }

    @SuppressWarnings("unchecked")
    private List<? extends SourceSplit>[] splitsFor(Transformation t, int parallelism) {
        List<? extends SourceSplit> all;
        try {
            all = t.getSource().createInitialSplits();
        } catch (Exception e) {
            throw new IllegalStateException("Source " + t + " could not list its splits: " + e.getMessage(), e);
        }
        List<SourceSplit>[] result = new List[parallelism];
        for (int i = 0; i < parallelism; i++) {
            result[i] = new ArrayList<>();
        }
        for (int j = 0; j < all.size(); j++) {
            result[j % parallelism].add(all.get(j));
        }
        return result;
    }

    // ------------------------------------------------------------------ TaskGateway

    @Override
    public void acknowledgeCheckpoint(int taskIndex, long checkpointId,
                                      Map<String, CheckpointMetadata.SubtaskState> states, long alignmentNanos,
                                      long syncNanos, long alignedAtNanos, long syncDoneAtNanos) {
        coordinator.acknowledge(taskIndex, checkpointId, states, alignmentNanos, syncNanos, alignedAtNanos,
                syncDoneAtNanos);
    }

    @Override
    public void checkpointCompletionHandled(int taskIndex, long checkpointId) {
        coordinator.completionHandled(taskIndex, checkpointId);
    }

    @Override
    public void declineCheckpoint(int taskIndex, long checkpointId, Throwable cause) {
        coordinator.decline(taskIndex, checkpointId, cause);
    }

    @Override
    public void taskStarted(int taskIndex) {
        if (started.incrementAndGet() == tasks.size()) {
            LOG.debug("Job '{}' attempt {}: all {} tasks started", spec.jobName(), number, tasks.size());
        }
    }

    @Override
    public boolean allTasksStarted() {
        return started.get() >= tasks.size();
    }

    @Override
    public void firstRecordsRead(int taskIndex) {
        coordinator.firstRecordsRead(this);
    }

    @Override
    public void endOfInput(int taskIndex) {
        boolean all;
        synchronized (this) {
            endOfInput++;
            all = endOfInput == tasks.size();
        }
        if (all) {
            LOG.info("All input of job '{}' has ended: taking the final checkpoint", spec.jobName());
            triggerFinalCheckpoint();
        }
    }

    private void triggerFinalCheckpoint() {
        if (over) {
            return;
        }
        coordinator.triggerNow().whenComplete((id, err) -> {
            if (err == null) {
                for (StreamTask t : tasks) {
                    t.finish();
                }
            } else if (!over) {
                LOG.warn("Final checkpoint of job '{}' failed, retrying: {}", spec.jobName(), err.toString());
                CompletableFuture.delayedExecutor(200, TimeUnit.MILLISECONDS).execute(this::triggerFinalCheckpoint);
            }
        });
    }

    @Override
    public synchronized void taskFailed(int taskIndex, Throwable cause) {
        if (failure == null) {
            failure = cause;
        }
        notifyAll();
    }

    @Override
    public synchronized void taskFinished(int taskIndex) {
        finished++;
        notifyAll();
    }

    // ------------------------------------------------------------------ AttemptContext

    @Override
    public boolean hasReadInput() {
        return recordsIn() > 0;
    }

    @Override
    public int numberOfTasks() {
        return tasks.size();
    }

    @Override
    public void triggerSources(long checkpointId, long timestamp, boolean stop) {
        for (StreamTask t : sourceTasks) {
            t.triggerCheckpoint(checkpointId, timestamp, stop);
        }
    }

    @Override
    public void resumeSources() {
        for (StreamTask t : sourceTasks) {
            t.resumeAfterStop();
        }
    }

    /** Ends every task once the mails queued before (the stop checkpoint's notifications) have run. */
    void finishTasks() {
        for (StreamTask t : tasks) {
            t.finish();
        }
    }

    @Override
    public void notifyComplete(long checkpointId) {
        for (StreamTask t : tasks) {
            t.notifyCheckpointComplete(checkpointId);
        }
    }

    @Override
    public void notifyAborted(long checkpointId) {
        for (StreamTask t : tasks) {
            t.notifyCheckpointAborted(checkpointId);
        }
    }

    @Override
    public void failJob(Throwable cause) {
        taskFailed(-1, cause);
    }

    @Override
    public Map<String, int[]> operators() {
        return operators;
    }
}
