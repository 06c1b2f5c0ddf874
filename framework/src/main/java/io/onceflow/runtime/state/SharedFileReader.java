package io.onceflow.runtime.state;

import io.onceflow.runtime.storage.StateHandle;
import java.io.IOException;
import java.nio.file.Path;

/** Copies a shared state file of a checkpoint to a local file, for a restore. */
@FunctionalInterface
public interface SharedFileReader {

    SharedFileReader NONE = (handle, file) -> {
        throw new IOException("no shared state storage to read " + handle.path() + " from");
    };

    void download(StateHandle.InFile handle, Path localFile) throws IOException;

    /** Reads a shared file as a stream: by default from a local copy deleted when the stream is closed. */
    default java.io.InputStream open(StateHandle.InFile handle) throws IOException {
        return openLocalCopy(this, handle);
    }

    /** A stream over a local copy of a shared file that {@code reader} downloads, deleted when the stream is closed. */
    static java.io.InputStream openLocalCopy(SharedFileReader reader, StateHandle.InFile handle) throws IOException {
        Path local = java.nio.file.Files.createTempFile("onceflow-shared-", ".state");
        try {
            reader.download(handle, local);
            return java.nio.file.Files.newInputStream(local, java.nio.file.StandardOpenOption.DELETE_ON_CLOSE);
        } catch (IOException | RuntimeException e) {
            java.nio.file.Files.deleteIfExists(local);
            throw e;
        }
    }
}
