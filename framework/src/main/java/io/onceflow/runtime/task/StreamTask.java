package io.onceflow.runtime.task;

import io.onceflow.api.CheckpointingMode;
import io.onceflow.api.NonRecoverableException;
import io.onceflow.api.source.InputStatus;
import io.onceflow.runtime.io.CancelledException;
import io.onceflow.runtime.io.CheckpointBarrier;
import io.onceflow.runtime.io.EndOfPartition;
import io.onceflow.runtime.io.InputGate;
import io.onceflow.runtime.io.RecordWriter;
import io.onceflow.runtime.state.SubtaskStateFormat;
import io.onceflow.runtime.storage.CheckpointMetadata;
import io.onceflow.runtime.storage.StateHandle;
import io.onceflow.runtime.fault.FaultPoint;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One parallel subtask of an operator chain, on its own thread. It reads its input gate (or polls its
 * source), runs the chain, and takes part in checkpoints:
 *
 * <ul>
 * <li>a source subtask snapshots when the coordinator's trigger arrives in its mailbox and emits the
 * barrier;</li>
 * <li>any other subtask snapshots once barrier {@code n} arrived on all its channels; in EXACTLY_ONCE
 * mode a channel that delivered the barrier is held back until then (alignment).</li>
 * </ul>
 * The snapshot's synchronous part (operators write their state, the state is serialized) runs on this
 * thread; writing it to checkpoint storage and acknowledging run on the job's snapshot executor. Keyed state
 * frozen by an operator is written from then on, while the operators after it in the chain take their part.
 *
 * <p>Life cycle: {@code CREATED → RUNNING → (END_OF_INPUT →) FINISHED}, or {@code → FAILED} /
 * {@code → CANCELED} from any state.
 */
public final class StreamTask implements Runnable {

    private static final Logger LOG = LoggerFactory.getLogger(StreamTask.class);

    public enum State { CREATED, RUNNING, END_OF_INPUT, FINISHED, FAILED, CANCELED }

    private final int taskIndex;
    private final String chainName;
    private final String name;
    private final int subtaskIndex;
    private final int parallelism;
    private final TaskInfo info;
    private final List<ChainedOperator> chain;
    private final InputGate gate;
    /** Every writer: barriers, end of input and flushes go to all of them. */
    private final List<RecordWriter> writers;
    /** The writers of the main output. */
    private final List<RecordWriter> mainWriters;
    /** The writers of side outputs, by {@link #sideOutputKey}. */
    private final Map<String, List<RecordWriter>> sideWriters;
    private final boolean isSource;
    private final Runnable flusher;

    private volatile State state = State.CREATED;
    private volatile boolean finishRequested;
    // a source that took the last checkpoint of a graceful stop reads nothing more (task thread only)
    private boolean suspended;
    private Thread thread;

    // alignment (task thread only)
    private long aligningId = -1;
    private int barriersReceived;
    private long alignmentStart;
    private final TreeMap<Long, Integer> atLeastOnceCounts = new TreeMap<>();
    private long lastCheckpointId = -1;
    private int endedChannels;
    private final boolean[] channelEnded;
    /** Asynchronous snapshot parts waiting for this task's running one; guards {@link #snapshotRunning}. */
    private final ArrayDeque<PendingSnapshot> snapshotQueue = new ArrayDeque<>();
    private boolean snapshotRunning;

    // metrics: written by the task thread, read racily by reporters
    private long numRecordsIn;
    private long numRecordsOut;
    /** Records each chained operator handed to the next one (the last one's are numRecordsOut). */
    private long[] operatorRecordsOut = new long[0];

    public StreamTask(int taskIndex, String name, int subtaskIndex, int parallelism, TaskInfo info,
                      List<ChainedOperator> chain, InputGate gate, List<RecordWriter> mainWriters,
                      Map<String, List<RecordWriter>> sideWriters, boolean isSource) {
        this.taskIndex = taskIndex;
        this.chainName = name;
        this.name = name + " (" + (subtaskIndex + 1) + "/" + parallelism + ")";
        this.subtaskIndex = subtaskIndex;
        this.parallelism = parallelism;
        this.info = info;
        this.chain = chain;
        this.gate = gate;
        this.mainWriters = mainWriters;
        this.sideWriters = sideWriters;
        this.writers = new java.util.ArrayList<>(mainWriters);
        sideWriters.values().forEach(this.writers::addAll);
        this.isSource = isSource;
        this.channelEnded = new boolean[isSource ? 0 : gate.numberOfChannels()];
        this.flusher = this::flushOutputs;
        wireChain();
    }

    public String getName() {
        return name;
    }

    /** The chain's name, without the subtask. */
    public String getChainName() {
        return chainName;
    }

    public int getSubtaskIndex() {
        return subtaskIndex;
    }

    public InputGate getGate() {
        return gate;
    }

    public State getState() {
        return state;
    }

    public long getNumRecordsIn() {
        return numRecordsIn;
    }

    public long getNumRecordsOut() {
        return numRecordsOut;
    }

    public boolean isSource() {
        return isSource;
    }

    public void start() {
        thread = new Thread(this, "onceflow " + name);
        thread.setDaemon(true);
        thread.start();
    }

    public Thread getThread() {
        return thread;
    }

    private void wireChain() {
        operatorRecordsOut = new long[chain.size()];
        for (int i = 0; i < chain.size(); i++) {
            ChainedOperator op = chain.get(i);
            Output<Object> out;
            if (i + 1 < chain.size()) {
                StreamOperator<Object, Object> next = chain.get(i + 1).operator;
                int index = i;
                out = record -> {
                    operatorRecordsOut[index]++;
                    try {
                        next.processElement(record);
                    } catch (Throwable t) {
                        throw Sneaky.rethrow(t);
                    }
                };
            } else {
                out = tailOutput();
            }
            OperatorContext<Object> ctx = new OperatorContext<>(info.jobName(), op.uid, subtaskIndex, parallelism,
                    info.attempt(), out, op.operatorState, op.keyedState, info.restoredCheckpointId(), info.faults(),
                    info.metrics().group(op.uid, subtaskIndex), sideOutputsOf(op.uid), info.store());
            ctx.setEndToEndLatency(info.metrics().endToEndLatency());
            int index = i;
            // read racily by the metrics endpoint, written by this task's thread only
            ctx.getMetricGroup().gauge("recordsOut", java.util.Map.of(),
                    () -> index + 1 < operatorRecordsOut.length ? operatorRecordsOut[index] : numRecordsOut);
            op.operator.setup(ctx);
        }
    }

    /** Identifies the side output {@code tagId} of operator {@code operatorUid} among a task's writers. */
    public static String sideOutputKey(String operatorUid, String tagId) {
        return operatorUid + "\u0000" + tagId;
    }

    private SideOutputs sideOutputsOf(String uid) {
        if (sideWriters.isEmpty()) {
            return SideOutputs.NONE;
        }
        return (tag, record) -> {
            List<RecordWriter> targets = sideWriters.get(sideOutputKey(uid, tag.getId()));
            if (targets == null) {
                return; // nobody reads this side output
            }
            try {
                for (RecordWriter w : targets) {
                    w.emit(record);
                }
            } catch (Throwable t) {
                throw Sneaky.rethrow(t);
            }
        };
    }

    private Output<Object> tailOutput() {
        List<RecordWriter> writers = mainWriters;
        if (writers.isEmpty()) {
            return record -> numRecordsOut++;
        }
        if (writers.size() == 1) {
            RecordWriter w = writers.get(0);
            return record -> {
                numRecordsOut++;
                try {
                    w.emit(record);
                } catch (Throwable t) {
                    throw Sneaky.rethrow(t);
                }
            };
        }
        return record -> {
            numRecordsOut++;
            try {
                for (RecordWriter w : writers) {
                    w.emit(record);
                }
            } catch (Throwable t) {
                throw Sneaky.rethrow(t);
            }
        };
    }

    @Override
    public void run() {
        state = State.RUNNING;
        Throwable failure = null;
        try {
            initializeAndOpen();
            info.gateway().taskStarted(taskIndex);
            if (isSource) {
                runSource();
            } else {
                runInput();
            }
        } catch (CancelledException e) {
            // cancelled while waiting: not a failure of its own
        } catch (InterruptedException e) {
            if (!gate.isCancelled()) {
                failure = e;
            }
        } catch (Throwable t) {
            failure = t;
        } finally {
            closeOperators(failure == null && !gate.isCancelled());
        }
        if (failure != null && !gate.isCancelled()) {
            state = State.FAILED;
            if (failure instanceof NonRecoverableException) {
                LOG.warn("Task {} failed: {}", name, failure.toString()); // its message says what to do
            } else {
                LOG.warn("Task {} failed: {}", name, failure.toString(), failure); // and where it came from
            }
            info.gateway().taskFailed(taskIndex, failure);
        } else if (gate.isCancelled() && !finishRequested) {
            state = State.CANCELED;
        } else {
            state = State.FINISHED;
            info.gateway().taskFinished(taskIndex);
        }
    }

    /**
     * Every operator's {@code initializeState} then {@code open}, downstream first. A sink at the end of a longer
     * chain starts on a thread of its own meanwhile: its start is mostly waiting for an external system (committing
     * the transactions a restored checkpoint holds, aborting lingering ones), and the operators before it restore
     * their state in the same time instead of after it. The sink is opened once both are done, and whatever happens,
     * this returns only when the sink's start has ended.
     */
    private void initializeAndOpen() throws Exception {
        int last = chain.size() - 1;
        if (last == 0 || !((Object) chain.get(last).operator instanceof SinkOperator<?, ?, ?>)) {
            for (int i = last; i >= 0; i--) {
                chain.get(i).operator.initializeState();
            }
            for (int i = last; i >= 0; i--) {
                chain.get(i).operator.open();
            }
            return;
        }
        StreamOperator<?, ?> sink = chain.get(last).operator;
        java.util.concurrent.FutureTask<Void> sinkStart = new java.util.concurrent.FutureTask<>(() -> {
            sink.initializeState();
            return null;
        });
        Thread starter = new Thread(sinkStart, thread == null ? "onceflow " + name + " sink start"
                : thread.getName() + " sink start");
        starter.setDaemon(true);
        starter.setContextClassLoader(Thread.currentThread().getContextClassLoader());
        starter.start();
        Throwable failure = null;
        try {
            for (int i = last - 1; i >= 0; i--) {
                chain.get(i).operator.initializeState();
            }
            for (int i = last - 1; i >= 0; i--) {
                chain.get(i).operator.open();
            }
        } catch (Throwable t) {
            failure = t;
        }
        boolean interrupted = false;
        while (true) {
            try {
                sinkStart.get();
                break;
            } catch (InterruptedException e) {
                // cancelled: pass it on to the sink's start, but never close a sink while it starts
                interrupted = true;
                starter.interrupt();
            } catch (java.util.concurrent.ExecutionException e) {
                if (failure == null) {
                    failure = e.getCause();
                } else {
                    failure.addSuppressed(e.getCause());
                }
                break;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        if (failure != null) {
            throw Sneaky.<Exception>rethrow(failure);
        }
        sink.open();
    }

    private void closeOperators(boolean reportFailures) {
        for (ChainedOperator op : chain) {
            try {
                op.operator.close();
            } catch (Throwable t) {
                if (reportFailures) {
                    LOG.warn("Closing operator '{}' of task {} failed", op.uid, name, t);
                } else {
                    LOG.debug("Closing operator '{}' of task {} after failure/cancel failed: {}", op.uid, name, t.toString());
                }
            }
            if (op.keyedState != null) {
                // a snapshot still being written keeps what it reads open until it is done
                op.keyedState.close();
            }
        }
    }

    // ---------------------------------------------------------------- source loop

    /** Set once every task of the attempt has started: a source reads nothing before (see TaskGateway). */
    private boolean othersStarted;

    private void runSource() throws Exception {
        @SuppressWarnings("unchecked")
        SourceOperator<?, ?> source = (SourceOperator<?, ?>) (StreamOperator<?, ?>) chain.get(0).operator;
        // the early checkpoint after a restore is triggered at the first record, and its trigger (mail) makes the
        // reader return at once: the barrier follows that record instead of the rest of the first batch, so the
        // first checkpoint holds little for the cold code downstream to process before it can complete
        source.signals(gate::hasMail, () -> {
            numRecordsIn = 1; // counted before the report: the coordinator's watch asks whether records came in
            info.gateway().firstRecordsRead(taskIndex);
        });
        boolean ended = false;
        while (!finishRequested) {
            if (gate.hasMail()) {
                runMail();
                continue;
            }
            if (gate.isCancelled()) {
                throw new CancelledException();
            }
            if (ended || suspended) {
                flushOutputs();
                gate.awaitMail(100, TimeUnit.MILLISECONDS);
                continue;
            }
            if (!othersStarted) {
                othersStarted = info.gateway().allTasksStarted();
                if (!othersStarted) {
                    source.prefetch();
                    gate.awaitMail(2, TimeUnit.MILLISECONDS);
                    continue;
                }
            }
            InputStatus status = source.emitNext();
            numRecordsIn = source.getNumRecordsEmitted();
            if (status == InputStatus.END_OF_INPUT) {
                ended = true;
                endOfInput();
            } else if (status == InputStatus.NOTHING_AVAILABLE) {
                flushOutputs();
                gate.awaitMail(1, TimeUnit.MILLISECONDS);
            }
        }
        flushOutputs();
    }

    // ---------------------------------------------------------------- input loop

    private void runInput() throws Exception {
        StreamOperator<Object, Object> head = chain.get(0).operator;
        ChainedOperator headOp = chain.get(0);
        boolean keyed = headOp.keyedState != null;
        while (!finishRequested) {
            Object element = gate.next(flusher);
            if (element == null) {
                runMail();
            } else if (element instanceof CheckpointBarrier barrier) {
                onBarrier(barrier, gate.lastChannel());
            } else if (element == EndOfPartition.INSTANCE) {
                onEndOfPartition(gate.lastChannel());
            } else {
                numRecordsIn++;
                if (keyed) {
                    headOp.keyedState.setCurrentKey(headOp.keySelector.getKey(element));
                }
                head.processElement(element);
            }
        }
        flushOutputs();
    }

    private void onBarrier(CheckpointBarrier barrier, int channel) throws Exception {
        long id = barrier.id();
        int n = gate.numberOfChannels();
        if (info.mode() == CheckpointingMode.AT_LEAST_ONCE) {
            int count = atLeastOnceCounts.merge(id, 1, Integer::sum);
            if (count == 1 && n > 1) {
                alignmentStart = System.nanoTime();
            }
            if (count == n) {
                atLeastOnceCounts.remove(id);
                // older checkpoints whose barriers never all came were aborted upstream
                atLeastOnceCounts.headMap(id).clear();
                if (id > lastCheckpointId) {
                    performCheckpoint(barrier, n > 1 ? System.nanoTime() - alignmentStart : 0);
                }
            }
            return;
        }
        if (id <= lastCheckpointId) {
            return;
        }
        if (id > aligningId) {
            if (aligningId >= 0) {
                // a newer barrier overtook an unfinished alignment: the older checkpoint cannot complete here
                LOG.debug("Task {}: barrier {} arrived while aligning {}; abandoning {}", name, id, aligningId, aligningId);
                gate.unblockAll();
            }
            aligningId = id;
            barriersReceived = 0;
            alignmentStart = System.nanoTime();
        }
        if (id < aligningId) {
            return;
        }
        if (!gate.isBlocked(channel)) {
            gate.block(channel);
            barriersReceived++;
        }
        if (barriersReceived == n) {
            gate.unblockAll();
            aligningId = -1;
            performCheckpoint(barrier, System.nanoTime() - alignmentStart);
        }
    }

    private void onEndOfPartition(int channel) throws Exception {
        if (!channelEnded[channel]) {
            channelEnded[channel] = true;
            endedChannels++;
            if (endedChannels == channelEnded.length) {
                endOfInput();
            }
        }
    }

    private void endOfInput() throws Exception {
        for (ChainedOperator op : chain) {
            op.operator.endInput();
        }
        for (RecordWriter w : writers) {
            w.broadcastEvent(EndOfPartition.INSTANCE);
        }
        state = State.END_OF_INPUT;
        info.gateway().endOfInput(taskIndex);
    }

    private void flushOutputs() {
        try {
            for (RecordWriter w : writers) {
                w.flushAll();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CancelledException();
        }
    }

    // ---------------------------------------------------------------- checkpoints

    /** Mailbox action: the coordinator triggers checkpoint {@code id} at this source subtask. */
    public void triggerCheckpoint(long id, long timestamp, boolean stop) {
        gate.addMail(mail(() -> {
            if (id > lastCheckpointId) {
                performCheckpoint(new CheckpointBarrier(id, timestamp), 0);
                suspended |= stop;
            }
        }));
        // a reader waiting for input (an idle Kafka partition's poll) returns now rather than at its timeout
        if ((Object) chain.get(0).operator instanceof SourceOperator<?, ?> source) {
            source.wakeUp();
        }
    }

    /** Mailbox action: a graceful stop was given up, so a source reads on. */
    public void resumeAfterStop() {
        gate.addMail(() -> suspended = false);
    }

    public void notifyCheckpointComplete(long id) {
        gate.addMail(mail(() -> {
            for (ChainedOperator op : chain) {
                info.faults().at(FaultPoint.DURING_NOTIFY, op.uid, subtaskIndex, id);
                op.operator.notifyCheckpointComplete(id);
            }
            info.gateway().checkpointCompletionHandled(taskIndex, id);
        }));
    }

    public void notifyCheckpointAborted(long id) {
        gate.addMail(mail(() -> {
            for (ChainedOperator op : chain) {
                op.operator.notifyCheckpointAborted(id);
            }
        }));
    }

    /** Ends the task after the mails before this one ran (used after the final checkpoint). */
    public void finish() {
        gate.addMail(() -> finishRequested = true);
    }

    public void cancel() {
        gate.cancel();
    }

    private interface Mail {
        void run() throws Exception;
    }

    private static Runnable mail(Mail m) {
        return () -> {
            try {
                m.run();
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new MailFailure(e);
            }
        };
    }

    private void runMail() throws Exception {
        Runnable r;
        while ((r = gate.pollMail()) != null) {
            try {
                r.run();
            } catch (MailFailure f) {
                throw (Exception) f.getCause();
            }

        }
    }

    private void performCheckpoint(CheckpointBarrier barrier, long alignmentNanos) throws Exception {
        long id = barrier.id();
        long alignedAt = System.nanoTime();
        lastCheckpointId = id;
        for (RecordWriter w : writers) {
            w.broadcastEvent(barrier);
        }
        for (ChainedOperator op : chain) {
            info.faults().at(FaultPoint.BEFORE_SNAPSHOT, op.uid, subtaskIndex, id);
        }
        // the synchronous part, the task's pause: operator state is small and serialized here; keyed
        // state is only frozen (a new copy-on-write generation, a RocksDB snapshot) and written later
        long syncStart = System.nanoTime();
        Map<String, OperatorSnapshot> snapshots = new LinkedHashMap<>();
        PendingSnapshot early = null;
        CompletableFuture<Void> confirmation = null;
        try {
            for (int i = 0; i < chain.size(); i++) {
                ChainedOperator op = chain.get(i);
                op.operator.snapshotState(id);
                CompletableFuture<Void> c = op.operator.snapshotConfirmation(id);
                if (c != null) {
                    confirmation = confirmation == null ? c : CompletableFuture.allOf(confirmation, c);
                }
                if (!op.operatorState.isEmpty() || op.keyedState != null) {
                    snapshots.put(op.uid, new OperatorSnapshot(SubtaskStateFormat.operatorState(op.operatorState),
                            op.keyedState != null ? op.keyedState.snapshot(id) : null, op.operator.referencedFiles(id)));
                }
                if (early == null && op.keyedState != null && i < chain.size() - 1) {
                    // operators further down the chain may take a while (a sink's pre-commit waits for its
                    // writes to be acknowledged): the frozen keyed state is written meanwhile
                    early = startEarlyWrite(id, snapshots);
                }
            }
        } catch (Exception e) {
            LOG.warn("Task {} declines checkpoint {}: snapshot failed: {}", name, id, e.toString());
            info.gateway().declineCheckpoint(taskIndex, id, e);
            abandonAfterSyncFailure(early, snapshots);
            return;
        }
        long syncDoneAt = System.nanoTime();
        long syncNanos = syncDoneAt - syncStart;
        try {
            for (ChainedOperator op : chain) {
                info.faults().at(FaultPoint.AFTER_SNAPSHOT, op.uid, subtaskIndex, id);
            }
        } catch (Exception e) {
            abandonAfterSyncFailure(early, snapshots);
            throw e;
        }
        if (early != null) {
            early.syncDone(snapshots, confirmation, alignmentNanos, syncNanos, alignedAt, syncDoneAt);
            return;
        }
        PendingSnapshot pending = new PendingSnapshot(id, snapshots, confirmation, alignmentNanos, syncNanos, alignedAt,
                syncDoneAt);
        synchronized (snapshotQueue) {
            if (snapshotRunning) {
                snapshotQueue.add(pending);
                return;
            }
            snapshotRunning = true;
        }
        submit(pending);
    }

    /**
     * Starts writing the operators frozen so far while the synchronous part goes on, if no earlier asynchronous part
     * of this task is running (checkpoint order holds: otherwise the whole part queues as usual). Returns the pending
     * part, which the synchronous part completes, or null.
     */
    private PendingSnapshot startEarlyWrite(long id, Map<String, OperatorSnapshot> frozen) {
        synchronized (snapshotQueue) {
            if (snapshotRunning) {
                return null;
            }
            snapshotRunning = true;
        }
        PendingSnapshot early = new PendingSnapshot(id, new LinkedHashMap<>(frozen));
        try {
            info.snapshotExecutor().execute(early);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            synchronized (snapshotQueue) {
                snapshotRunning = false;
            }
            return null; // the job is ending; the synchronous part goes on and its part is dropped like any other
        }
        return early;
    }

    /** The synchronous part failed: releases what it froze, once an early write no longer reads it. */
    private void abandonAfterSyncFailure(PendingSnapshot early, Map<String, OperatorSnapshot> snapshots) {
        if (early == null) {
            snapshots.values().forEach(OperatorSnapshot::release);
        } else {
            early.syncFailed(snapshots);
        }
    }

    /**
     * Hands a task's asynchronous parts to the snapshot executor one at a time, in checkpoint order: a
     * task acknowledges checkpoints in the order of their barriers (so a later checkpoint never completes
     * and subsumes an earlier one still being written, such as a stop's), and an incremental snapshot sees
     * every file the one before it uploaded.
     */
    private void submit(PendingSnapshot pending) {
        try {
            info.snapshotExecutor().execute(pending);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            pending.abandon();
            throw e;
        }
    }

    /** After one asynchronous part: starts the next queued one of this task, if any. */
    private void snapshotDone() {
        PendingSnapshot next;
        synchronized (snapshotQueue) {
            next = snapshotQueue.poll();
            if (next == null) {
                snapshotRunning = false;
                return;
            }
        }
        try {
            submit(next);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            LOG.debug("Task {}: the job ended before checkpoint {} was written", name, next.id);
        }
    }

    /**
     * The asynchronous part of one checkpoint of this task, queued on the snapshot executor. Started either once the
     * synchronous part is done, or early ({@link #startEarlyWrite}): then it first writes the operators frozen before
     * the rest of the chain's synchronous part, and whichever of that write and the synchronous part ends last goes
     * on to write the rest and acknowledge.
     */
    public final class PendingSnapshot implements Runnable {
        private final long id;
        private volatile Map<String, OperatorSnapshot> snapshots;
        /** What the operators' snapshots wait for before the acknowledgement ({@link
         * StreamOperator#snapshotConfirmation}); null if nothing. */
        private volatile CompletableFuture<Void> confirmation;
        private long alignmentNanos;
        private long syncNanos;
        private long alignedAt;
        private long syncDoneAt;
        /** An early part's frozen operators, written first; null once written or for a part started when synced. */
        private Map<String, OperatorSnapshot> frozenEarly;
        /** What the early write wrote, by operator uid, or the reason it failed. */
        private final Map<String, CheckpointMetadata.SubtaskState> writtenEarly = new HashMap<>();
        private Throwable earlyFailure;
        /** The early write and the synchronous part: the last to arrive goes on. */
        private final AtomicInteger toArrive;
        private volatile boolean syncFailed;
        private final AtomicBoolean released = new AtomicBoolean();

        PendingSnapshot(long id, Map<String, OperatorSnapshot> snapshots, CompletableFuture<Void> confirmation,
                        long alignmentNanos, long syncNanos, long alignedAt, long syncDoneAt) {
            this.id = id;
            this.snapshots = snapshots;
            this.confirmation = confirmation;
            this.alignmentNanos = alignmentNanos;
            this.syncNanos = syncNanos;
            this.alignedAt = alignedAt;
            this.syncDoneAt = syncDoneAt;
            this.toArrive = new AtomicInteger(0);
        }

        /** An early part: writes {@code frozen} when it runs; {@link #syncDone} or {@link #syncFailed} follows. */
        PendingSnapshot(long id, Map<String, OperatorSnapshot> frozen) {
            this.id = id;
            this.snapshots = frozen;
            this.frozenEarly = frozen;
            this.toArrive = new AtomicInteger(2);
        }

        /** The task thread, its synchronous part done: hands over every operator's part. */
        void syncDone(Map<String, OperatorSnapshot> all, CompletableFuture<Void> confirmation, long alignmentNanos,
                      long syncNanos, long alignedAt, long syncDoneAt) {
            this.confirmation = confirmation;
            this.alignmentNanos = alignmentNanos;
            this.syncNanos = syncNanos;
            this.alignedAt = alignedAt;
            this.syncDoneAt = syncDoneAt;
            this.snapshots = all;
            if (toArrive.decrementAndGet() == 0) {
                submit(this);
            }
        }

        /** The task thread, its synchronous part failed (and declined): what was frozen is released once unread. */
        void syncFailed(Map<String, OperatorSnapshot> all) {
            this.snapshots = all;
            this.syncFailed = true;
            if (toArrive.decrementAndGet() == 0) {
                releaseAll();
                snapshotDone();
            }
        }

        @Override
        public void run() {
            Map<String, OperatorSnapshot> frozen = frozenEarly;
            if (frozen != null) {
                frozenEarly = null;
                try {
                    for (ChainedOperator op : chain) {
                        OperatorSnapshot snapshot = frozen.get(op.uid);
                        if (snapshot != null) {
                            writtenEarly.put(op.uid, writeOperator(id, op, snapshot));
                        }
                    }
                } catch (Throwable t) {
                    earlyFailure = t;
                }
                if (toArrive.decrementAndGet() != 0) {
                    return; // the synchronous part goes on; it hands this part back to the executor when done
                }
                if (syncFailed) {
                    releaseAll();
                    snapshotDone();
                    return;
                }
            }
            boolean waiting = false;
            try {
                waiting = writeAndAcknowledge(this);
            } finally {
                releaseAll();
                if (!waiting) {
                    snapshotDone();
                }
            }
        }

        private void releaseAll() {
            if (released.compareAndSet(false, true)) {
                snapshots.values().forEach(OperatorSnapshot::release);
            }
        }

        /** Never run (the job ended first): releases what this and the task's later snapshots hold. */
        public void abandon() {
            if (frozenEarly != null) {
                // an early part never run: stands in for its write; the synchronous part may still be reading on
                frozenEarly = null;
                earlyFailure = new CancellationException("the job ended before the write began");
                if (toArrive.decrementAndGet() != 0) {
                    return; // the synchronous part hands this part back, the executor refuses it, and it ends here
                }
            }
            releaseAll();
            List<PendingSnapshot> later;
            synchronized (snapshotQueue) {
                later = new ArrayList<>(snapshotQueue);
                snapshotQueue.clear();
                snapshotRunning = false;
            }
            later.forEach(PendingSnapshot::releaseAll);
        }
    }

    /** What one operator's synchronous snapshot part produced. */
    private record OperatorSnapshot(byte[] operatorState, io.onceflow.runtime.state.KeyedStateSnapshot keyed,
                                    StreamOperator.ReferencedFiles operatorFiles) {
        void release() {
            if (keyed != null) {
                keyed.release();
            }
        }
    }

    /**
     * The asynchronous part, on a snapshot thread: streams each operator's state to storage, then acknowledges, or
     * declines should an operator's snapshot not be confirmed. Returns true if the acknowledgement waits for that
     * confirmation: it then comes on a snapshot thread once the confirmation is done, and the task's next asynchronous
     * part starts after it (acknowledgements stay in checkpoint order), without holding a snapshot thread meanwhile.
     */
    private boolean writeAndAcknowledge(PendingSnapshot p) {
        long id = p.id;
        Map<String, CheckpointMetadata.SubtaskState> states = new LinkedHashMap<>();
        try {
            if (p.earlyFailure != null) {
                throw p.earlyFailure;
            }
            for (ChainedOperator op : chain) {
                CheckpointMetadata.SubtaskState written = p.writtenEarly.get(op.uid);
                states.put(op.uid, written != null ? written : writeOperator(id, op, p.snapshots.get(op.uid)));
            }
        } catch (Throwable t) {
            LOG.warn("Task {} declines checkpoint {}: writing its state failed: {}", name, id, t.toString());
            info.gateway().declineCheckpoint(taskIndex, id, t);
            return false;
        }
        CompletableFuture<Void> confirmation = p.confirmation;
        if (confirmation == null || confirmation.isDone()) {
            acknowledgeIfConfirmed(p, states);
            return false;
        }
        confirmation.whenCompleteAsync((ignored, failure) -> {
            try {
                acknowledgeIfConfirmed(p, states);
            } finally {
                snapshotDone();
            }
        }, this::onSnapshotThread);
        return true;
    }

    /**
     * Runs {@code action} on a snapshot thread, or here once the job ended and the executor refuses it: the task's
     * later snapshots, queued behind the action, are then released instead of held for good.
     */
    private void onSnapshotThread(Runnable action) {
        try {
            info.snapshotExecutor().execute(action);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            action.run();
        }
    }

    private void acknowledgeIfConfirmed(PendingSnapshot p, Map<String, CheckpointMetadata.SubtaskState> states) {
        if (p.confirmation != null) {
            try {
                p.confirmation.join();
            } catch (CompletionException | CancellationException e) {
                Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
                LOG.warn("Task {} declines checkpoint {}: its snapshot was not confirmed: {}", name, p.id,
                        cause.toString());
                info.gateway().declineCheckpoint(taskIndex, p.id, cause);
                return;
            }
        }
        try {
            info.gateway().acknowledgeCheckpoint(taskIndex, p.id, states, p.alignmentNanos, p.syncNanos, p.alignedAt,
                    p.syncDoneAt);
        } catch (RuntimeException e) {
            LOG.warn("Task {} declines checkpoint {}: acknowledging it failed: {}", name, p.id, e.toString());
            info.gateway().declineCheckpoint(taskIndex, p.id, e);
        }
    }

    /** Streams one operator's part of a checkpoint to storage ({@code snapshot} null: it has no state). */
    private CheckpointMetadata.SubtaskState writeOperator(long id, ChainedOperator op, OperatorSnapshot snapshot)
            throws java.io.IOException {
        StateHandle handle = null;
        List<StateHandle.InFile> shared = List.of();
        long uploaded = 0;
        if (snapshot != null) {
            String stateName = op.uid + "-" + subtaskIndex;
            io.onceflow.runtime.storage.CheckpointStateOutput out = io.onceflow.runtime.storage.CheckpointStateOutput
                    .inlineUpTo(info.inlineStateThreshold(), () -> info.store().openStateOutput(id, stateName));
            try {
                SubtaskStateFormat.write(out, snapshot.operatorState(), snapshot.keyed(),
                        io.onceflow.runtime.state.KeyedStateSnapshot.SharedFiles.of(info.store()));
                handle = out.closeAndGetHandle();
                if (snapshot.keyed() != null) {
                    shared = snapshot.keyed().sharedFiles();
                    uploaded = snapshot.keyed().uploadedSharedBytes();
                }
                if (!snapshot.operatorFiles().files().isEmpty()) {
                    shared = new ArrayList<>(shared);
                    shared.addAll(snapshot.operatorFiles().files());
                    uploaded += snapshot.operatorFiles().uploadedBytes();
                }
            } catch (Throwable t) {
                out.discard();
                throw t;
            }
        }
        return new CheckpointMetadata.SubtaskState(subtaskIndex,
                op.keyGroups != null ? op.keyGroups : io.onceflow.runtime.state.KeyGroupRange.EMPTY, handle,
                shared, uploaded);
    }

    /** Wraps a checked exception thrown by a mail action. */
    private static final class MailFailure extends RuntimeException {
        MailFailure(Throwable cause) {
            super(cause);
        }
    }

    @Override
    public String toString() {
        return name;
    }
}
