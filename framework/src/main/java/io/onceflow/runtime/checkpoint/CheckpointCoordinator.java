package io.onceflow.runtime.checkpoint;

import io.onceflow.api.CheckpointConfig;
import io.onceflow.api.CheckpointStats;
import io.onceflow.runtime.Clock;
import io.onceflow.runtime.storage.CheckpointMetadata;
import io.onceflow.runtime.storage.JobCheckpointStore;
import io.onceflow.runtime.fault.FaultInjector;
import io.onceflow.runtime.fault.FaultPoint;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Triggers checkpoints, collects acknowledgements, completes and aborts them. One per job run; it
 * outlives restarts (ids, counters and the completed checkpoints carry over), and each attempt
 * attaches with {@link #startAttempt} and detaches with {@link #stopAttempt}.
 *
 * <p>Life cycle of one checkpoint: {@code PENDING → COMPLETED} once every subtask acknowledged and
 * the metadata is durable, then every subtask is notified; or {@code PENDING → ABORTED} on a decline,
 * a timeout or a storage failure, then every subtask is told it was aborted. Consecutive failures
 * beyond the tolerable number fail the job.
 *
 * <p>All state is guarded by {@code this}; the timer thread and the snapshot threads call in.
 */
public final class CheckpointCoordinator {

    private static final Logger LOG = LoggerFactory.getLogger(CheckpointCoordinator.class);

    /** What the coordinator needs of the running attempt. */
    public interface AttemptContext {
        int numberOfTasks();

        /**
         * Injects checkpoint {@code checkpointId} at every source subtask. With {@code stop}, the sources
         * read nothing more after its barrier: it is the last checkpoint of a graceful stop.
         */
        void triggerSources(long checkpointId, long timestamp, boolean stop);

        /** The sources read on after a graceful stop was given up: its last checkpoint never completed. */
        void resumeSources();

        void notifyComplete(long checkpointId);

        void notifyAborted(long checkpointId);

        void failJob(Throwable cause);

        /** uid → {parallelism, maxParallelism} of every operator, for the metadata. */
        Map<String, int[]> operators();

        /** Whether this attempt's sources have read any record yet (for the early first checkpoint). */
        default boolean hasReadInput() {
            return false;
        }
    }

    private final String jobName;
    private final CheckpointConfig config;
    private final boolean periodic;
    private final JobCheckpointStore store;
    private final io.onceflow.runtime.storage.Ownership ownership;
    private final Clock clock;
    private final FaultInjector faults;
    private final ScheduledExecutorService timer;

    private AttemptContext attempt;
    private long nextId;
    private final TreeMap<Long, Pending> pending = new TreeMap<>();
    private final ArrayDeque<Long> retained = new ArrayDeque<>();
    private CheckpointMetadata latestCompleted;
    /**
     * When the last checkpoint was due: its trigger time, except for a periodic one that ran a little late, whose
     * time it was scheduled for; the next periodic one is due an interval after it, so the timer's lateness does
     * not add up from one checkpoint to the next.
     */
    private long lastTriggerDue = Long.MIN_VALUE / 2;
    /** The time the scheduled periodic trigger is due. */
    private long nextTriggerDue;
    private long lastCompleteTime = Long.MIN_VALUE / 2;
    private int consecutiveFailures;
    private boolean deferred;
    /** Checkpoints asked for now (a final one, a stop's) while {@link #maxConcurrent} were pending. */
    private final ArrayDeque<Requested> requested = new ArrayDeque<>();
    private ScheduledFuture<?> nextTrigger;
    /** Watches the attempt's sources for their first records, to trigger its first checkpoint then. */
    private ScheduledFuture<?> firstInputWatch;
    private long attemptStartedAt;
    /**
     * Whether the current attempt triggered a checkpoint after its sources read something (a time comparison
     * cannot tell within a millisecond): one triggered before holds none of the new input, so the early first
     * checkpoint is still wanted after it.
     */
    private boolean attemptTriggeredWithInput;
    private boolean shutdown;
    private boolean periodicSuspended;

    // metrics
    private long completedCount;
    private long failedCount;
    private long lastDuration;
    private long lastSize;
    private long lastAlignmentNanos;
    private final ArrayDeque<Trace> history = new ArrayDeque<>();

    public CheckpointCoordinator(String jobName, CheckpointConfig config, JobCheckpointStore store, Clock clock,
                                 FaultInjector faults, CheckpointMetadata restoredFrom, List<Long> retainedIds,
                                 long highestUsedId, io.onceflow.runtime.storage.Ownership ownership) {
        this.ownership = ownership;
        this.jobName = jobName;
        this.config = config;
        this.periodic = config.isCheckpointingEnabled();
        this.store = store;
        this.clock = clock;
        this.faults = faults;
        this.latestCompleted = restoredFrom;
        this.nextId = Math.max(highestUsedId, restoredFrom != null ? restoredFrom.checkpointId() : 0) + 1;
        retained.addAll(retainedIds);
        if (restoredFrom != null && !retained.contains(restoredFrom.checkpointId())) {
            retained.add(restoredFrom.checkpointId());
        }
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "onceflow checkpoint coordinator " + jobName);
            t.setDaemon(true);
            return t;
        });
    }

    public synchronized CheckpointMetadata getLatestCompleted() {
        return latestCompleted;
    }

    public synchronized void startAttempt(AttemptContext context) {
        this.attempt = context;
        this.deferred = false;
        this.attemptStartedAt = clock.millis();
        this.attemptTriggeredWithInput = false;
        cancelFirstInputWatch(); // an earlier attempt's, should it not have been stopped
        if (periodic) {
            schedule(config.getCheckpointInterval().toMillis());
            if (config.isEarlyCheckpointAfterRestore() && latestCompleted != null && !shutdown) {
                // the task runs under this lock, so it sees its own future assigned
                ScheduledFuture<?>[] watch = new ScheduledFuture<?>[1];
                watch[0] = timer.scheduleWithFixedDelay(() -> watchFirstInput(context, watch[0]), 10, 10,
                        TimeUnit.MILLISECONDS);
                firstInputWatch = watch[0];
            }
        }
    }

    /**
     * The early first checkpoint of an attempt that restored one: once its sources have read something, trigger
     * at once rather than at the end of the first interval (output becomes visible only with a completed
     * checkpoint, so after a restart it resumes that much sooner). Ends with the attempt, or once the attempt
     * triggered a checkpoint by any way after its sources read something: a periodic one that came first, while a
     * slow start kept the sources from reading, holds nothing new and does not count.
     */
    private synchronized void watchFirstInput(AttemptContext context, ScheduledFuture<?> self) {
        if (attempt != context || shutdown || attemptTriggeredWithInput) {
            self.cancel(false); // only this watch: a later attempt may have its own
            if (firstInputWatch == self) {
                firstInputWatch = null;
            }
            return;
        }
        if (!context.hasReadInput() || periodicSuspended || pending.size() >= maxConcurrent()
                || clock.millis() < lastCompleteTime + config.getMinPauseBetweenCheckpoints().toMillis()) {
            return;
        }
        cancelFirstInputWatch();
        LOG.debug("Job {}: the sources read their first records {} ms after the start; first checkpoint now", jobName,
                clock.millis() - attemptStartedAt);
        trigger();
        schedule(config.getCheckpointInterval().toMillis());
    }

    /**
     * A source of {@code context} emitted its first records, on that source's thread: the early first checkpoint, if
     * it is waiting for them, is triggered now, so its barrier is queued at that source before it reads more and the
     * checkpoint holds only those records instead of the channels' worth read until the watch's next look.
     */
    public synchronized void firstRecordsRead(AttemptContext context) {
        if (firstInputWatch != null && attempt == context) {
            watchFirstInput(context, firstInputWatch);
        }
    }

    private void cancelFirstInputWatch() {
        if (firstInputWatch != null) {
            firstInputWatch.cancel(false);
            firstInputWatch = null;
        }
    }

    /** Detaches the attempt: pending checkpoints are dropped without notifications (their tasks are gone). */
    public synchronized void stopAttempt() {
        attempt = null;
        cancelFirstInputWatch();
        if (nextTrigger != null) {
            nextTrigger.cancel(false);
            nextTrigger = null;
        }
        for (Pending p : pending.values()) {
            p.cancelTimeout();
            discardQuietly(p.id);
            p.future.completeExceptionally(new CheckpointException(p.id, "the job attempt ended"));
        }
        pending.clear();
        for (Requested r : requested) {
            r.future.completeExceptionally(new IllegalStateException("the job attempt ended before the checkpoint "
                    + "asked for could be triggered"));
        }
        requested.clear();
    }

    public synchronized void shutdown() {
        stopAttempt();
        shutdown = true;
        timer.shutdownNow();
    }

    private void schedule(long delayMillis) {
        if (shutdown) {
            return;
        }
        if (nextTrigger != null) {
            nextTrigger.cancel(false);
        }
        nextTriggerDue = clock.millis() + Math.max(0, delayMillis);
        nextTrigger = timer.schedule(this::periodicTrigger, Math.max(0, delayMillis), TimeUnit.MILLISECONDS);
    }

    private synchronized void periodicTrigger() {
        nextTrigger = null;
        if (attempt == null || shutdown || periodicSuspended) {
            return;
        }
        if (pending.size() >= maxConcurrent()) {
            deferred = true;
            return;
        }
        long now = clock.millis();
        long interval = config.getCheckpointInterval().toMillis();
        long earliest = Math.max(lastTriggerDue + interval,
                lastCompleteTime + config.getMinPauseBetweenCheckpoints().toMillis());
        if (now < earliest) {
            schedule(earliest - now);
            return;
        }
        // a trigger that came a little late still counts as due on time, so the one after it comes an interval
        // after that time rather than after this one: a record waits at most about an interval for its barrier.
        // Later than a quarter of an interval (it waited for a pending checkpoint, or the process stood still),
        // the intervals start again from now rather than bunch two checkpoints together.
        long due = now - nextTriggerDue <= interval / 4 ? Math.min(now, nextTriggerDue) : now;
        trigger();
        lastTriggerDue = due;
        schedule(due + interval - clock.millis());
    }

    private int maxConcurrent() {
        // a min pause only makes sense with one checkpoint at a time
        return config.getMinPauseBetweenCheckpoints().isZero() ? config.getMaxConcurrentCheckpoints() : 1;
    }

    /**
     * Triggers a checkpoint now, regardless of interval and pause (the final checkpoint of a bounded job,
     * a stop). The future completes with the checkpoint's id once it is complete and notified, or
     * exceptionally when it is aborted.
     */
    public synchronized CompletableFuture<Long> triggerNow() {
        if (attempt == null) {
            return CompletableFuture.failedFuture(new IllegalStateException("the job is not running"));
        }
        return triggerOrQueue(false);
    }

    /**
     * The last checkpoint of a graceful stop: periodic checkpoints end, the sources read nothing after
     * its barrier, and the future completes once it is complete and every subtask was told so.
     */
    public synchronized CompletableFuture<Long> triggerStop() {
        if (attempt == null) {
            return CompletableFuture.failedFuture(new IllegalStateException("the job is not running"));
        }
        periodicSuspended = true;
        if (nextTrigger != null) {
            nextTrigger.cancel(false);
            nextTrigger = null;
        }
        return triggerOrQueue(true);
    }

    /**
     * A checkpoint asked for now still waits for a pending one when {@link #maxConcurrent} are pending, as a
     * periodic one does: a checkpoint overlapping the one before it would reach the sinks before that one's
     * completion notice, and a sink whose pre-committed transaction still locks what the next one writes
     * (prepared XA transactions) would wait on itself.
     */
    private CompletableFuture<Long> triggerOrQueue(boolean stop) {
        if (pending.size() < maxConcurrent()) {
            return trigger(stop);
        }
        Requested r = new Requested(stop, new CompletableFuture<>());
        requested.add(r);
        LOG.debug("Checkpoint of job {} asked for while {} pending: it follows them", jobName, pending.size());
        return r.future;
    }

    /** After a pending checkpoint ended: the checkpoints asked for meanwhile go first, then a deferred periodic one. */
    private void triggerWaiting() {
        while (attempt != null && !requested.isEmpty() && pending.size() < maxConcurrent()) {
            Requested r = requested.poll();
            trigger(r.stop).whenComplete((id, err) -> {
                if (err == null) {
                    r.future.complete(id);
                } else {
                    r.future.completeExceptionally(err);
                }
            });
        }
        if (deferred && attempt != null && requested.isEmpty()) {
            deferred = false;
            schedule(0);
        }
    }

    private record Requested(boolean stop, CompletableFuture<Long> future) {
    }

    /**
     * Undoes {@link #triggerStop}: a stop whose checkpoints kept failing was given up, so the sources read
     * on and periodic checkpoints resume.
     */
    public synchronized void resumeAfterStop() {
        periodicSuspended = false;
        // a stop's checkpoint still waiting for a pending one must not stop the sources later
        requested.removeIf(r -> {
            if (r.stop) {
                r.future.completeExceptionally(new IllegalStateException("the stop was given up before its checkpoint "
                        + "could be triggered"));
            }
            return r.stop;
        });
        if (attempt != null) {
            attempt.resumeSources();
            if (periodic) {
                schedule(config.getCheckpointInterval().toMillis());
            }
        }
    }

    private CompletableFuture<Long> trigger() {
        return trigger(false);
    }

    private CompletableFuture<Long> trigger(boolean stop) {
        long id = nextId++;
        long now = clock.millis();
        lastTriggerDue = now;
        if (attempt.hasReadInput()) {
            attemptTriggeredWithInput = true;
        }
        Pending p = new Pending(id, now, attempt.numberOfTasks());
        try {
            ownership.verify();
        } catch (RuntimeException e) {
            p.future.completeExceptionally(e);
            attempt.failJob(e);
            return p.future;
        }
        try {
            store.initCheckpoint(id);
        } catch (IOException e) {
            p.future.completeExceptionally(e);
            onFailure(id, "its directory could not be created: " + e);
            return p.future;
        }
        pending.put(id, p);
        p.timeout = timer.schedule(() -> abort(id, "it did not complete within the checkpoint timeout of "
                + config.getCheckpointTimeout().toMillis() + " ms"), config.getCheckpointTimeout().toMillis(), TimeUnit.MILLISECONDS);
        LOG.debug("Triggering checkpoint {} of job {}", id, jobName);
        attempt.triggerSources(id, now, stop);
        return p.future;
    }

    public synchronized void acknowledge(int taskIndex, long checkpointId,
                                         Map<String, CheckpointMetadata.SubtaskState> states, long alignmentNanos,
                                         long syncNanos) {
        acknowledge(taskIndex, checkpointId, states, alignmentNanos, syncNanos, -1, -1);
    }

    /** An acknowledgement with the times (System.nanoTime) its task's last barrier arrived and its sync part ended. */
    public synchronized void acknowledge(int taskIndex, long checkpointId,
                                         Map<String, CheckpointMetadata.SubtaskState> states, long alignmentNanos,
                                         long syncNanos, long alignedAtNanos, long syncDoneAtNanos) {
        Pending p = pending.get(checkpointId);
        if (p == null || attempt == null) {
            return;
        }
        p.acks.put(taskIndex, states);
        p.maxAlignment = Math.max(p.maxAlignment, alignmentNanos);
        p.maxSync = Math.max(p.maxSync, syncNanos);
        p.trace.taskReached(alignedAtNanos, syncDoneAtNanos, System.nanoTime());
        if (p.acks.size() == p.expectedAcks) {
            complete(p);
        }
    }

    public synchronized void decline(int taskIndex, long checkpointId, Throwable cause) {
        if (io.onceflow.api.NonRecoverableException.isIn(cause) && attempt != null
                && pending.containsKey(checkpointId)) {
            // the task found that the job must not go on (a source whose input is no longer what it read): this is
            // the job's failure, before the checkpoint's own counts toward the tolerated ones
            attempt.failJob(cause);
        }
        abort(checkpointId, "task " + taskIndex + " declined it: " + cause);
    }

    private void complete(Pending p) {
        pending.remove(p.id);
        p.cancelTimeout();
        Map<String, List<CheckpointMetadata.SubtaskState>> byOperator = new LinkedHashMap<>();
        for (Map<String, CheckpointMetadata.SubtaskState> ack : p.acks.values()) {
            for (Map.Entry<String, CheckpointMetadata.SubtaskState> e : ack.entrySet()) {
                byOperator.computeIfAbsent(e.getKey(), k -> new ArrayList<>()).add(e.getValue());
            }
        }
        Map<String, CheckpointMetadata.OperatorState> ops = new LinkedHashMap<>();
        for (Map.Entry<String, int[]> op : attempt.operators().entrySet()) {
            List<CheckpointMetadata.SubtaskState> subtasks = byOperator.getOrDefault(op.getKey(), new ArrayList<>());
            subtasks.sort((a, b) -> Integer.compare(a.subtaskIndex(), b.subtaskIndex()));
            ops.put(op.getKey(), new CheckpointMetadata.OperatorState(op.getKey(), op.getValue()[0], op.getValue()[1], subtasks));
        }
        CheckpointMetadata metadata = new CheckpointMetadata(jobName, p.id, p.triggerTime, ops);
        try {
            // a zombie must neither complete a checkpoint nor, below, delete the new owner's
            ownership.verify();
        } catch (RuntimeException e) {
            p.future.completeExceptionally(e);
            attempt.failJob(e);
            return;
        }
        try {
            store.commitMetadata(metadata);
            p.trace.durable = System.nanoTime();
        } catch (IOException e) {
            // it may be half there (renamed, not synced): it must not look complete to the next start
            discardQuietly(p.id);
            p.future.completeExceptionally(e);
            attempt.notifyAborted(p.id);
            onFailure(p.id, "its metadata could not be written: " + e);
            return;
        }
        long now = clock.millis();
        latestCompleted = metadata;
        completedCount++;
        consecutiveFailures = 0;
        lastCompleteTime = now;
        lastDuration = now - p.triggerTime;
        lastSize = metadata.totalStateSize();
        lastAlignmentNanos = p.maxAlignment;
        p.trace.stats = new CheckpointStats(p.id, p.triggerTime, lastDuration, lastSize, metadata.incrementalStateSize(),
                p.maxAlignment / 1_000_000, p.maxSync / 1_000);
        p.trace.tasksToHandle = p.expectedAcks;
        history.add(p.trace);
        if (history.size() > 1000) {
            history.poll();
        }
        retained.add(p.id);
        while (retained.size() > config.getNumRetainedCheckpoints()) {
            retained.poll();
        }
        LOG.info("Completed checkpoint {} of job {} ({} bytes, {} of them new, {} ms)", p.id, jobName, lastSize,
                metadata.incrementalStateSize(), lastDuration);
        // older pending checkpoints are subsumed
        for (Long older : new ArrayList<>(pending.headMap(p.id).keySet())) {
            Pending o = pending.remove(older);
            o.cancelTimeout();
            o.future.completeExceptionally(new CheckpointException(older, "subsumed by checkpoint " + p.id));
            attempt.notifyAborted(older);
        }
        try {
            faults.at(FaultPoint.AFTER_CHECKPOINT_COMPLETE_BEFORE_NOTIFY, null, -1, p.id);
        } catch (Throwable t) {
            attempt.failJob(t);
            p.future.completeExceptionally(t);
            return;
        }
        // the sinks commit first: the output waits for nothing but the durable metadata
        p.trace.notified = System.nanoTime();
        attempt.notifyComplete(p.id);
        Set<Long> keep = new HashSet<>(retained);
        keep.addAll(pending.keySet());
        try {
            store.discardAllExcept(keep);
        } catch (IOException e) {
            LOG.warn("Could not remove old checkpoints of job {} from {}: {}", jobName, store.describe(), e.toString());
        }
        p.future.complete(p.id);
        triggerWaiting();
    }

    private synchronized void abort(long checkpointId, String reason) {
        Pending p = pending.remove(checkpointId);
        if (p == null || attempt == null) {
            return;
        }
        p.cancelTimeout();
        discardQuietly(checkpointId);
        attempt.notifyAborted(checkpointId);
        p.future.completeExceptionally(new CheckpointException(checkpointId, reason));
        onFailure(checkpointId, reason);
    }

    private void onFailure(long checkpointId, String reason) {
        failedCount++;
        consecutiveFailures++;
        LOG.warn("Checkpoint {} of job {} failed: {} ({} consecutive failure(s), {} tolerated)", checkpointId, jobName,
                reason, consecutiveFailures, config.getTolerableCheckpointFailureNumber());
        if (consecutiveFailures > config.getTolerableCheckpointFailureNumber() && attempt != null) {
            consecutiveFailures = 0;
            attempt.failJob(new CheckpointException(checkpointId, "the job failed because " + reason
                    + ", exceeding the tolerable number of consecutive checkpoint failures ("
                    + config.getTolerableCheckpointFailureNumber() + ")"));
        }
        triggerWaiting();
    }

    private void discardQuietly(long id) {
        try {
            store.discard(id);
        } catch (IOException e) {
            LOG.debug("Could not discard checkpoint {}: {}", id, e.toString());
        }
    }

    public synchronized long getCompletedCount() {
        return completedCount;
    }

    public synchronized long getFailedCount() {
        return failedCount;
    }

    public synchronized int getPendingCount() {
        return pending.size();
    }

    public synchronized long getLastDurationMillis() {
        return lastDuration;
    }

    public synchronized long getLastSizeBytes() {
        return lastSize;
    }

    public synchronized long getLastAlignmentNanos() {
        return lastAlignmentNanos;
    }

    public synchronized long getLatestCompletedId() {
        return latestCompleted == null ? -1 : latestCompleted.checkpointId();
    }

    public synchronized List<CheckpointStats> getHistory() {
        List<CheckpointStats> stats = new ArrayList<>(history.size());
        for (Trace t : history) {
            stats.add(t.toStats());
        }
        return stats;
    }

    /** A subtask handled the completion of {@code checkpointId} (its sinks committed). */
    public synchronized void completionHandled(int taskIndex, long checkpointId) {
        // the newest first: it is nearly always the last one
        java.util.Iterator<Trace> it = history.descendingIterator();
        for (int looked = 0; it.hasNext() && looked < 16; looked++) {
            Trace t = it.next();
            if (t.stats.checkpointId() == checkpointId) {
                if (--t.tasksToHandle == 0) {
                    t.handled = System.nanoTime();
                }
                return;
            }
        }
    }

    /** Where one checkpoint's time went: {@link System#nanoTime} at the end of each phase, 0 until reached. */
    private static final class Trace {
        final long triggered = System.nanoTime();
        long aligned;
        long syncDone;
        long acknowledged;
        long durable;
        long notified;
        long handled;
        int tasksToHandle;
        CheckpointStats stats;

        void taskReached(long alignedAt, long syncDoneAt, long ackAt) {
            aligned = Math.max(aligned, alignedAt);
            syncDone = Math.max(syncDone, syncDoneAt);
            acknowledged = Math.max(acknowledged, ackAt);
        }

        private long micros(long at) {
            return at <= 0 ? -1 : Math.max(0, (at - triggered) / 1_000);
        }

        CheckpointStats toStats() {
            return new CheckpointStats(stats.checkpointId(), stats.triggerTimestamp(), stats.durationMillis(),
                    stats.stateSizeBytes(), stats.incrementalSizeBytes(), stats.maxAlignmentMillis(),
                    stats.maxSyncPauseMicros(), new CheckpointStats.Phases(micros(aligned), micros(syncDone),
                    micros(acknowledged), micros(durable), micros(notified), micros(handled)));
        }
    }

    public synchronized List<Long> getRetainedIds() {
        return new ArrayList<>(retained);
    }

    private static final class Pending {
        final long id;
        final long triggerTime;
        final int expectedAcks;
        final Map<Integer, Map<String, CheckpointMetadata.SubtaskState>> acks = new HashMap<>();
        final CompletableFuture<Long> future = new CompletableFuture<>();
        ScheduledFuture<?> timeout;
        long maxAlignment;
        long maxSync;
        final Trace trace = new Trace();

        Pending(long id, long triggerTime, int expectedAcks) {
            this.id = id;
            this.triggerTime = triggerTime;
            this.expectedAcks = expectedAcks;
        }

        void cancelTimeout() {
            if (timeout != null) {
                timeout.cancel(false);
            }
        }
    }
}
