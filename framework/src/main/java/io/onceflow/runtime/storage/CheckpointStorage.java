package io.onceflow.runtime.storage;

import io.onceflow.api.CheckpointStorageProvider;
import java.net.URI;
import java.nio.file.Path;
import java.nio.file.Paths;

/** Where checkpoints are kept. {@link #forJob} gives the part of one job. */
public interface CheckpointStorage extends CheckpointStorageProvider {

    JobCheckpointStore forJob(String jobName);

    /**
     * The storage for a URI: {@code file:///dir} or a plain path is a directory on the local file system.
     *
     * @throws IllegalArgumentException naming the URI and what is supported
     */
    static CheckpointStorage fromUri(String uri) {
        if (uri.startsWith("file:")) {
            return new FileSystemCheckpointStorage(Paths.get(URI.create(uri)));
        }
        int colon = uri.indexOf("://");
        if (colon > 0) {
            throw new IllegalArgumentException("Checkpoint storage '" + uri + "' uses the scheme '"
                    + uri.substring(0, colon) + "', which this Onceflow does not support yet: use a local directory, "
                    + "as file:///path/to/checkpoints or a plain path");
        }
        return new FileSystemCheckpointStorage(Path.of(uri));
    }
}
