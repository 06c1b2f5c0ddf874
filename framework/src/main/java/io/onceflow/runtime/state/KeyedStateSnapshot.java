package io.onceflow.runtime.state;

import io.onceflow.runtime.storage.JobCheckpointStore;
import io.onceflow.runtime.storage.StateHandle;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * A consistent view of one subtask's keyed state at a checkpoint, written to storage by a thread
 * other than the task's. Either in the canonical keyed format of {@link SubtaskStateFormat}, which
 * any backend restores, or as a RocksDB native snapshot whose SST files are shared between
 * checkpoints (incremental checkpoints).
 */
public interface KeyedStateSnapshot {

    /**
     * How {@link #write} writes the state: {@link SubtaskStateFormat#KEYED_CANONICAL},
     * {@link SubtaskStateFormat#KEYED_ROCKSDB_NATIVE} or {@link SubtaskStateFormat#KEYED_HEAP_CHAIN}.
     */
    default int format() {
        return SubtaskStateFormat.KEYED_CANONICAL;
    }

    /** The format {@link #write} will use with {@code shared} (an incremental heap snapshot needs shared storage). */
    default int format(SharedFiles shared) {
        return format();
    }

    /** Streams the state (never holding all of it in one array); big files may go to shared storage. */
    void write(DataOutputStream out, SharedFiles shared) throws IOException;

    /** The shared files the written state refers to (after {@link #write}). */
    default List<StateHandle.InFile> sharedFiles() {
        return List.of();
    }

    /** How many bytes of {@link #sharedFiles()} {@link #write} uploaded itself (the rest earlier checkpoints did). */
    default long uploadedSharedBytes() {
        return 0;
    }

    /** Releases what the view pins (a RocksDB snapshot, a local checkpoint directory). Called once, written or not. */
    default void release() {
    }

    /** The job's shared state storage, as a snapshot sees it. */
    interface SharedFiles {
        /** No shared storage: snapshots must be self-contained. */
        SharedFiles NONE = (name, file) -> {
            throw new IOException("no shared state storage here");
        };

        /** Uploads a local file under a name unique in the job; durable when this returns. */
        StateHandle.InFile upload(String name, Path localFile) throws IOException;

        /**
         * Writes a new file under a name unique in the job from {@code body}; durable when this returns. By default
         * through a local temporary file and {@link #upload}.
         */
        default StateHandle.InFile write(String name, JobCheckpointStore.SharedFileBody body) throws IOException {
            return writeThroughLocalFile(name, body, this);
        }

        /** Writes {@code body} to a local temporary file, has {@code files} upload it as {@code name}, and deletes it. */
        static StateHandle.InFile writeThroughLocalFile(String name, JobCheckpointStore.SharedFileBody body,
                                                        SharedFiles files) throws IOException {
            Path local = java.nio.file.Files.createTempFile("onceflow-shared-", ".tmp");
            try {
                try (java.io.OutputStream out = java.nio.file.Files.newOutputStream(local)) {
                    body.writeTo(out);
                }
                return files.upload(name, local);
            } finally {
                java.nio.file.Files.deleteIfExists(local);
            }
        }

        /** The shared state of a job's checkpoint store: files written in place where the storage can. */
        static SharedFiles of(JobCheckpointStore store) {
            return new SharedFiles() {
                @Override
                public StateHandle.InFile upload(String name, Path localFile) throws IOException {
                    return store.uploadShared(name, localFile);
                }

                @Override
                public StateHandle.InFile write(String name, JobCheckpointStore.SharedFileBody body) throws IOException {
                    return store.writeShared(name, body);
                }
            };
        }
    }
}
