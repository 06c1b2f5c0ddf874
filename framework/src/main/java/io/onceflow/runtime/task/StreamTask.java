package io.onceflow.runtime.task;

import io.onceflow.api.CheckpointingMode;
import io.onceflow.api.source.InputStatus;
import io.onceflow.runtime.io.CancelledException;
import io.onceflow.runtime.io.CheckpointBarrier;
import io.onceflow.runtime.io.EndOfPartition;
import io.onceflow.runtime.io.InputGate;
import io.onceflow.runtime.io.RecordWriter;
import io.onceflow.runtime.state.SubtaskStateFormat;
import io.onceflow.runtime.storage.CheckpointMetadata;
import io.onceflow.runtime.storage.StateHandle;
import io.onceflow.testing.FaultPoint;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
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
 * thread; writing it to checkpoint storage and acknowledging run on the job's snapshot executor.
 *
 * <p>Life cycle: {@code CREATED → RUNNING → (END_OF_INPUT →) FINISHED}, or {@code → FAILED} /
 * {@code → CANCELED} from any state.
 */
public final class StreamTask implements Runnable {

    private static final Logger LOG = LoggerFactory.getLogger(StreamTask.class);

    public enum State { CREATED, RUNNING, END_OF_INPUT, FINISHED, FAILED, CANCELED }

    private final int taskIndex;
    private final String name;
    private final int subtaskIndex;
    private final int parallelism;
    private final TaskInfo info;
    private final List<ChainedOperator> chain;
    private final InputGate gate;
    private final List<RecordWriter> writers;
    private final boolean isSource;
    private final Runnable flusher;

    private volatile State state = State.CREATED;
    private volatile boolean finishRequested;
    private Thread thread;

    // alignment (task thread only)
    private long aligningId = -1;
    private int barriersReceived;
    private long alignmentStart;
    private final TreeMap<Long, Integer> atLeastOnceCounts = new TreeMap<>();
    private long lastCheckpointId = -1;
    private int endedChannels;
    private final boolean[] channelEnded;

    // metrics: written by the task thread, read racily by reporters
    private long numRecordsIn;
    private long numRecordsOut;

    public StreamTask(int taskIndex, String name, int subtaskIndex, int parallelism, TaskInfo info,
                      List<ChainedOperator> chain, InputGate gate, List<RecordWriter> writers, boolean isSource) {
        this.taskIndex = taskIndex;
        this.name = name + " (" + (subtaskIndex + 1) + "/" + parallelism + ")";
        this.subtaskIndex = subtaskIndex;
        this.parallelism = parallelism;
        this.info = info;
        this.chain = chain;
        this.gate = gate;
        this.writers = writers;
        this.isSource = isSource;
        this.channelEnded = new boolean[isSource ? 0 : gate.numberOfChannels()];
        this.flusher = this::flushOutputs;
        wireChain();
    }

    public String getName() {
        return name;
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
        for (int i = 0; i < chain.size(); i++) {
            ChainedOperator op = chain.get(i);
            Output<Object> out;
            if (i + 1 < chain.size()) {
                StreamOperator<Object, Object> next = chain.get(i + 1).operator;
                out = record -> {
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
                    info.attempt(), out, op.operatorState, op.keyedState, info.restoredCheckpointId(), info.faults());
            op.operator.setup(ctx);
        }
    }

    private Output<Object> tailOutput() {
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
            for (int i = chain.size() - 1; i >= 0; i--) {
                chain.get(i).operator.initializeState();
            }
            for (int i = chain.size() - 1; i >= 0; i--) {
                chain.get(i).operator.open();
            }
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
            LOG.warn("Task {} failed: {}", name, failure.toString());
            info.gateway().taskFailed(taskIndex, failure);
        } else if (gate.isCancelled() && !finishRequested) {
            state = State.CANCELED;
        } else {
            state = State.FINISHED;
            info.gateway().taskFinished(taskIndex);
        }
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
        }
    }

    // ---------------------------------------------------------------- source loop

    private void runSource() throws Exception {
        @SuppressWarnings("unchecked")
        SourceOperator<?, ?> source = (SourceOperator<?, ?>) (StreamOperator<?, ?>) chain.get(0).operator;
        boolean ended = false;
        while (!finishRequested) {
            if (gate.hasMail()) {
                runMail();
                continue;
            }
            if (gate.isCancelled()) {
                throw new CancelledException();
            }
            if (ended) {
                flushOutputs();
                gate.awaitMail(100, TimeUnit.MILLISECONDS);
                continue;
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
    public void triggerCheckpoint(long id, long timestamp) {
        gate.addMail(mail(() -> {
            if (id > lastCheckpointId) {
                performCheckpoint(new CheckpointBarrier(id, timestamp), 0);
            }
        }));
    }

    public void notifyCheckpointComplete(long id) {
        gate.addMail(mail(() -> {
            for (ChainedOperator op : chain) {
                info.faults().at(FaultPoint.DURING_NOTIFY, op.uid, subtaskIndex, id);
                op.operator.notifyCheckpointComplete(id);
            }
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
        lastCheckpointId = id;
        for (RecordWriter w : writers) {
            w.broadcastEvent(barrier);
        }
        Map<String, byte[]> snapshots = new LinkedHashMap<>();
        for (ChainedOperator op : chain) {
            info.faults().at(FaultPoint.BEFORE_SNAPSHOT, op.uid, subtaskIndex, id);
        }
        try {
            for (ChainedOperator op : chain) {
                op.operator.snapshotState(id);
                if (!op.operatorState.isEmpty() || op.keyedState != null) {
                    snapshots.put(op.uid, SubtaskStateFormat.write(op.operatorState, op.keyedState));
                } else {
                    snapshots.put(op.uid, null);
                }
            }
        } catch (Exception e) {
            LOG.warn("Task {} declines checkpoint {}: snapshot failed: {}", name, id, e.toString());
            info.gateway().declineCheckpoint(taskIndex, id, e);
            return;
        }
        for (ChainedOperator op : chain) {
            info.faults().at(FaultPoint.AFTER_SNAPSHOT, op.uid, subtaskIndex, id);
        }
        info.snapshotExecutor().execute(() -> writeAndAcknowledge(id, snapshots, alignmentNanos));
    }

    private void writeAndAcknowledge(long id, Map<String, byte[]> snapshots, long alignmentNanos) {
        try {
            Map<String, CheckpointMetadata.SubtaskState> states = new LinkedHashMap<>();
            for (ChainedOperator op : chain) {
                byte[] bytes = snapshots.get(op.uid);
                StateHandle handle = null;
                if (bytes != null) {
                    handle = bytes.length <= info.inlineStateThreshold()
                            ? new StateHandle.Inline(bytes)
                            : info.store().writeState(id, op.uid + "-" + subtaskIndex, bytes);
                }
                states.put(op.uid, new CheckpointMetadata.SubtaskState(subtaskIndex,
                        op.keyGroups != null ? op.keyGroups : io.onceflow.runtime.state.KeyGroupRange.EMPTY, handle));
            }
            info.gateway().acknowledgeCheckpoint(taskIndex, id, states, alignmentNanos);
        } catch (Throwable t) {
            LOG.warn("Task {} declines checkpoint {}: writing its state failed: {}", name, id, t.toString());
            info.gateway().declineCheckpoint(taskIndex, id, t);
        }
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
