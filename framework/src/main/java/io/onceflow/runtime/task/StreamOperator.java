package io.onceflow.runtime.task;

/**
 * The one contract every operator of a task implements. All methods are called on the subtask's
 * thread (except a chain's last operator that is a sink: its {@code initializeState} runs on a thread of its
 * own while the operators before it start, and the subtask's thread waits for it before going on), in this
 * order:
 *
 * <pre>
 * setup → initializeState → open → (processElement | snapshotState | notify…)* → [endInput] → close
 * </pre>
 *
 * {@code snapshotState(n)} is called at barrier {@code n} after the operators before it in the chain
 * snapshotted and before the state backends are written: an operator puts what it must remember into
 * its operator or keyed state there.
 */
public interface StreamOperator<IN, OUT> {

    void setup(OperatorContext<OUT> context);

    /** State backends are restored; register state here or in {@link #open}. */
    default void initializeState() throws Exception {
    }

    default void open() throws Exception {
    }

    void processElement(IN element) throws Exception;

    /** All input has ended (bounded job). Emitting is still allowed. */
    default void endInput() throws Exception {
    }

    default void snapshotState(long checkpointId) throws Exception {
    }

    /**
     * Files in checkpoint storage the state just snapshotted refers to (a write-ahead sink's pending
     * batches), asked right after {@link #snapshotState}: the checkpoint lists them, so they are kept as
     * long as it is. {@code uploadedBytes} of them were uploaded for this checkpoint.
     */
    default ReferencedFiles referencedFiles(long checkpointId) {
        return ReferencedFiles.NONE;
    }

    /**
     * Asked right after {@link #snapshotState}: a future the task waits for before it acknowledges the checkpoint,
     * declining it if the future fails, or null (the default) to acknowledge once the state is written. See {@link
     * io.onceflow.api.source.SourceReader#confirmSnapshot}.
     */
    default java.util.concurrent.CompletableFuture<Void> snapshotConfirmation(long checkpointId) throws Exception {
        return null;
    }

    /** See {@link #referencedFiles}. */
    record ReferencedFiles(java.util.List<io.onceflow.runtime.storage.StateHandle.InFile> files, long uploadedBytes) {
        public static final ReferencedFiles NONE = new ReferencedFiles(java.util.List.of(), 0);
    }

    default void notifyCheckpointComplete(long checkpointId) throws Exception {
    }

    default void notifyCheckpointAborted(long checkpointId) throws Exception {
    }

    /** Called when the task ends, normally or not; release resources. */
    default void close() throws Exception {
    }
}
