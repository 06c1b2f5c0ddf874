package io.onceflow.runtime.storage;

import java.io.IOException;
import java.util.Optional;

/**
 * The checkpoints of one job. What is durable when:
 * <ol>
 * <li>{@link #writeState} returns once a subtask's state bytes are durable (files are fsynced);</li>
 * <li>{@link #commitMetadata} makes the checkpoint exist, atomically: before it returns normally the
 * checkpoint may or may not exist after a crash; after, it does;</li>
 * <li>anything without metadata is garbage, removed by {@link #discard} or on the next start.</li>
 * </ol>
 */
public interface JobCheckpointStore {

    /** Says where, for messages. */
    String describe();

    /**
     * Checks up front that checkpoints can be written here.
     *
     * @throws IllegalStateException naming the location and what to change
     */
    void checkWritable();

    /**
     * Makes this process the job's one owner here, before it reads or writes any checkpoint.
     *
     * @param takeOver take the job from an owner that is alive but hung, which is then fenced
     * @throws OwnershipLostException when another live instance owns the job (and {@code takeOver} is false)
     */
    default Ownership acquireOwnership(boolean takeOver) throws IOException {
        return Ownership.NONE;
    }

    /** The latest checkpoint whose metadata is complete, if any. */
    Optional<CheckpointMetadata> loadLatestCompleted() throws IOException;

    /** The ids of every checkpoint whose metadata is complete, ascending. */
    java.util.List<Long> completedCheckpointIds() throws IOException;

    /** The highest checkpoint id ever used here, complete or not, or 0. New checkpoint ids continue above it. */
    long highestCheckpointId() throws IOException;

    /** Reserves a checkpoint id before any state is written, so ids are never reused after a crash. */
    void initCheckpoint(long checkpointId) throws IOException;

    StateHandle writeState(long checkpointId, String name, byte[] data) throws IOException;

    byte[] readState(StateHandle handle) throws IOException;

    /**
     * Streams one subtask's state of checkpoint {@code checkpointId} (named {@code name}), so no state
     * has to fit in one array. The default collects it in memory and calls {@link #writeState}.
     */
    default CheckpointStateOutput openStateOutput(long checkpointId, String name) throws IOException {
        JobCheckpointStore store = this;
        return new CheckpointStateOutput() {
            private final java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();

            @Override
            public void write(int b) {
                bytes.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                bytes.write(b, off, len);
            }

            @Override
            public StateHandle closeAndGetHandle() throws IOException {
                return store.writeState(checkpointId, name, bytes.toByteArray());
            }

            @Override
            public void discard() {
            }
        };
    }

    /** Reads back what a handle points to, as a stream. The default reads it all with {@link #readState}. */
    default java.io.InputStream openState(StateHandle handle) throws IOException {
        return new java.io.ByteArrayInputStream(readState(handle));
    }

    void commitMetadata(CheckpointMetadata metadata) throws IOException;

    /**
     * Copies a local file into the job's shared state, where checkpoints may refer to it (a RocksDB SST
     * file); durable when this returns. {@code name} must be unique in the job.
     */
    default StateHandle.InFile uploadShared(String name, java.nio.file.Path localFile) throws IOException {
        throw new IOException(describe() + " cannot hold shared state files (incremental checkpoints)");
    }

    /** What a new shared file holds: written to {@code out} by {@link #writeShared}, which closes it. */
    @FunctionalInterface
    interface SharedFileBody {
        void writeTo(java.io.OutputStream out) throws IOException;
    }

    /**
     * Writes a new file into the job's shared state (an incremental heap checkpoint's base or delta) from
     * {@code body}; durable when this returns, and nothing of it under {@code name} if {@code body} throws.
     * {@code name} must be unique in the job. By default through a local temporary file and {@link #uploadShared};
     * storages that can write in place do, which saves a copy of every such file.
     */
    default StateHandle.InFile writeShared(String name, SharedFileBody body) throws IOException {
        return io.onceflow.runtime.state.KeyedStateSnapshot.SharedFiles.writeThroughLocalFile(name, body, this::uploadShared);
    }

    /**
     * Reads a shared file as a stream. By default a local copy ({@link #downloadShared}) that is deleted
     * when the stream is closed; storages that can read in place do.
     */
    default java.io.InputStream openShared(StateHandle.InFile handle) throws IOException {
        return io.onceflow.runtime.state.SharedFileReader.openLocalCopy(this::downloadShared, handle);
    }

    /** Copies a shared file back to a local file. */
    default void downloadShared(StateHandle.InFile handle, java.nio.file.Path localFile) throws IOException {
        throw new IOException(describe() + " cannot hold shared state files (incremental checkpoints)");
    }

    /** The highest mark a sink wrote under {@code name} with {@link #writeCommitMark}, if any. */
    default java.util.OptionalLong readCommitMark(String name) throws IOException {
        throw new IOException(describe() + " cannot keep commit marks");
    }

    /**
     * Records durably and atomically that a sink committed everything up to {@code checkpointId} under
     * {@code name} (a write-ahead sink's operator and subtask). Marks only grow; they outlive checkpoints
     * and are removed with the job's storage.
     */
    default void writeCommitMark(String name, long checkpointId) throws IOException {
        throw new IOException(describe() + " cannot keep commit marks");
    }

    /**
     * Removes shared files no completed checkpoint refers to: those of checkpoints that failed or were
     * never completed. Called when the job starts, when nothing is in progress.
     */
    default void discardUnreferencedSharedState() throws IOException {
    }

    /** Removes a checkpoint, complete or not. Its shared files stay: a later checkpoint may refer to them. */
    void discard(long checkpointId) throws IOException;

    /**
     * Removes every checkpoint of the job except those listed, and the shared files only the removed
     * completed checkpoints referred to.
     */
    void discardAllExcept(java.util.Set<Long> keep) throws IOException;
}
