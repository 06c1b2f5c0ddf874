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

    /** The latest checkpoint whose metadata is complete, if any. */
    Optional<CheckpointMetadata> loadLatestCompleted() throws IOException;

    /** The highest checkpoint id ever used here, complete or not, or 0. New checkpoint ids continue above it. */
    long highestCheckpointId() throws IOException;

    /** Reserves a checkpoint id before any state is written, so ids are never reused after a crash. */
    void initCheckpoint(long checkpointId) throws IOException;

    StateHandle writeState(long checkpointId, String name, byte[] data) throws IOException;

    byte[] readState(StateHandle handle) throws IOException;

    void commitMetadata(CheckpointMetadata metadata) throws IOException;

    /** Removes a checkpoint, complete or not. */
    void discard(long checkpointId) throws IOException;

    /** Removes every checkpoint of the job except those listed. */
    void discardAllExcept(java.util.Set<Long> keep) throws IOException;
}
