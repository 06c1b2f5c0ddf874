package io.onceflow.api.source;

import io.onceflow.api.functions.CheckpointListener;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Reads the splits of one source subtask. All methods but {@link #wakeUp} are called on the subtask's thread,
 * never concurrently.
 *
 * <p>Call order: {@link #addSplits} (the splits restored from the checkpoint, or the initial ones)
 * → {@link #start} → [repeated {@link #prefetch}] → repeated {@link #pollNext}, interleaved with {@link #snapshotState} at each
 * checkpoint and {@link #notifyCheckpointComplete} once it completes → {@link #close}.
 *
 * <p>The exactly-once contract: the splits returned by {@code snapshotState(n)} must describe the
 * position right after the last record emitted before the call, so that a reader restored from them
 * emits exactly the records after that point.
 */
public interface SourceReader<T, SplitT extends SourceSplit> extends AutoCloseable, CheckpointListener {

    void addSplits(List<SplitT> splits);

    default void start() throws Exception {
    }

    /**
     * Emits zero or more records. Should return within a few milliseconds when nothing is available
     * so that checkpoints are not delayed, or soon after {@link #wakeUp} when it waits longer.
     */
    InputStatus pollNext(ReaderOutput<T> output) throws Exception;

    /**
     * Asks a {@link #pollNext} that is waiting for input to return now, with what it has: the task has mail that
     * should not wait (a checkpoint's trigger, whose barrier goes out once {@code pollNext} returned). Called from
     * another thread, at any time, also when no {@code pollNext} is running; a reader must then lose nothing and
     * may return from its next {@code pollNext} early once. The default does nothing: the trigger then waits until
     * {@code pollNext} returns.
     */
    default void wakeUp() {
    }

    /**
     * Called instead of {@link #pollNext} while other tasks of the job are still starting (restoring state,
     * committing what a checkpoint held): the reader may connect and fetch ahead, keeping what it fetched for
     * {@code pollNext}, but emits nothing and moves no split position. Should return within a few milliseconds.
     */
    default void prefetch() throws Exception {
    }

    /** The current position of every split this reader owns. */
    List<SplitT> snapshotState(long checkpointId) throws Exception;

    /**
     * Asked right after {@link #snapshotState}, on the subtask's thread, for a snapshot that is right only if
     * something outside the reader still holds once the barrier has gone out (the Kafka reader: that its topics are
     * still the ones its positions are offsets of). The future completes once that is confirmed, on any thread and
     * in a bounded time; the subtask acknowledges the checkpoint only then, and declines it if the future fails, so
     * that no output of records emitted before the barrier is committed when they were not what the snapshot says.
     * A {@link io.onceflow.api.NonRecoverableException} as the failure also stops the job. The default, null, has
     * nothing to confirm.
     */
    default CompletableFuture<Void> confirmSnapshot(long checkpointId) throws Exception {
        return null;
    }

    @Override
    default void notifyCheckpointComplete(long checkpointId) throws Exception {
    }

    @Override
    default void close() throws Exception {
    }
}
