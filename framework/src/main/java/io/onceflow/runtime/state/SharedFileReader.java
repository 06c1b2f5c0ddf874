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
}
