package io.onceflow.api.sink;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * Files a sink keeps in the job's checkpoint storage (local directory, HDFS, ...), for sinks that must
 * hold more than fits in a committable, such as the records of a write-ahead log, and small marks of what
 * was committed.
 *
 * <p>A file is uploaded once ({@link #upload}) and then lives as long as a retained checkpoint refers to
 * it: a committable that refers to files says so by implementing {@link ReferencesCheckpointFiles}, and
 * every checkpoint taken while the committable is pending lists them. A file no completed checkpoint
 * refers to is removed when the job next starts.
 */
public interface CheckpointFiles {

    /** A file in checkpoint storage: where it is, relative to the job's part of the storage, and its size. */
    record CheckpointFile(String path, long size) {
    }

    /** Says where, for messages. */
    String describe();

    /**
     * Copies a local file into checkpoint storage; durable when this returns.
     *
     * @param name unique in the job (include the operator, subtask and checkpoint, and something random)
     */
    CheckpointFile upload(String name, Path localFile) throws IOException;

    /** Reads an uploaded file, as a stream. */
    InputStream open(CheckpointFile file) throws IOException;

    /** The highest checkpoint id written with {@link #writeCommitMark} under {@code name}, if any. */
    OptionalLong readCommitMark(String name) throws IOException;

    /**
     * Records durably, and atomically, that everything up to {@code checkpointId} was committed under
     * {@code name}. Marks only grow: a lower id than the current one is ignored.
     */
    void writeCommitMark(String name, long checkpointId) throws IOException;
}
