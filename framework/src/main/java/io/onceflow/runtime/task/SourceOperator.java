package io.onceflow.runtime.task;

import io.onceflow.api.source.InputStatus;
import io.onceflow.api.source.ReaderOutput;
import io.onceflow.api.source.Source;
import io.onceflow.api.source.SourceReader;
import io.onceflow.api.source.SourceSplit;
import io.onceflow.api.state.ListState;
import io.onceflow.runtime.state.VersionedTypeSerializer;
import java.util.ArrayList;
import java.util.List;

/**
 * The head of a source task: owns the {@link SourceReader} and keeps its split positions in operator
 * state under {@code __source_splits}.
 */
public final class SourceOperator<T, S extends SourceSplit> extends AbstractStreamOperator<Void, T> {

    public static final String SPLITS_STATE = "__source_splits";

    private final Source<T, S> source;
    private final List<S> initialSplits;
    private final java.util.Set<String> splitIdsAtStart;
    private SourceReader<T, S> reader;
    /** The reader once started, until it closes: what {@link #wakeUp} wakes, from another thread. */
    private volatile SourceReader<T, S> wakeable;
    private ListState<S> splitsState;
    private ReaderOutput<T> readerOutput;
    private java.util.function.BooleanSupplier yieldSignal = () -> false;
    private Runnable firstRecord = () -> { };
    // written by the task thread only; metrics read it racily, a slightly stale count is fine
    private long emitted;

    /**
     * @param initialSplits the splits of this subtask on a fresh start, or null when its splits come from
     *                      restored state
     * @param splitIdsAtStart the ids of the source's splits across all its subtasks as the attempt starts, or null
     *                        when not known; see {@link io.onceflow.api.source.SourceReaderContext#getSplitIdsAtStart}
     */
    public SourceOperator(Source<T, S> source, List<S> initialSplits, java.util.Set<String> splitIdsAtStart) {
        this.source = source;
        this.initialSplits = initialSplits;
        this.splitIdsAtStart = splitIdsAtStart;
    }

    @Override
    public void initializeState() throws Exception {
        splitsState = context.operatorState().getInternalListState(SPLITS_STATE,
                new VersionedTypeSerializer<>(source.getSplitSerializer()));
    }

    @Override
    public void open() throws Exception {
        List<S> splits = new ArrayList<>();
        if (initialSplits != null) {
            splits.addAll(initialSplits);
        } else {
            splitsState.get().forEach(splits::add);
        }
        if (splitIdsAtStart != null) {
            context.setSplitIdsAtStart(splitIdsAtStart);
        }
        reader = source.createReader(context);
        readerOutput = new ReaderOutput<>() {
            @Override
            public void collect(T record) {
                if (emitted++ == 0) {
                    firstRecord.run();
                }
                output.collect(record);
            }

            @Override
            public boolean shouldYield() {
                return yieldSignal.getAsBoolean();
            }

            @Override
            public <X> void output(io.onceflow.api.OutputTag<X> tag, X value) {
                context.sideOutputs().emit(tag, value);
            }
        };
        reader.addSplits(splits);
        reader.start();
        wakeable = reader;
    }

    /** From any thread: the task has mail that should not wait for the reader's {@code pollNext} to return. */
    void wakeUp() {
        SourceReader<T, S> r = wakeable;
        if (r != null) {
            r.wakeUp();
        }
    }

    /**
     * @param yieldSignal  true when the task has mail: the reader is asked to return after the current record
     * @param firstRecord  runs as the reader emits its first record, before that record goes on
     */
    void signals(java.util.function.BooleanSupplier yieldSignal, Runnable firstRecord) {
        this.yieldSignal = yieldSignal;
        this.firstRecord = firstRecord;
    }

    /** Records the reader emitted so far. */
    public long getNumRecordsEmitted() {
        return emitted;
    }

    public InputStatus emitNext() throws Exception {
        return reader.pollNext(readerOutput);
    }

    /** Lets the reader fetch ahead while the job's other tasks start; emits nothing. */
    public void prefetch() throws Exception {
        reader.prefetch();
    }

    @Override
    public void processElement(Void element) {
        throw new UnsupportedOperationException("a source has no input");
    }

    @Override
    public void snapshotState(long checkpointId) throws Exception {
        context.sealInputTimestamps(checkpointId);
        splitsState.update(reader.snapshotState(checkpointId));
    }

    @Override
    public java.util.concurrent.CompletableFuture<Void> snapshotConfirmation(long checkpointId) throws Exception {
        return reader.confirmSnapshot(checkpointId);
    }

    @Override
    public void notifyCheckpointComplete(long checkpointId) throws Exception {
        reader.notifyCheckpointComplete(checkpointId);
    }

    @Override
    public void notifyCheckpointAborted(long checkpointId) throws Exception {
        reader.notifyCheckpointAborted(checkpointId);
    }

    @Override
    public void close() throws Exception {
        wakeable = null;
        if (reader != null) {
            reader.close();
        }
    }
}
