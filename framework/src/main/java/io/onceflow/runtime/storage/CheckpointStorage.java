package io.onceflow.runtime.storage;

import io.onceflow.api.CheckpointStorageProvider;
import java.net.URI;
import java.nio.file.Path;
import java.nio.file.Paths;

/**
 * Where checkpoints are kept. {@link #forJob} gives the part of one job. {@link #close} releases what the
 * storage holds open (a Hadoop file system client); a job's storage lives as long as its process.
 */
public interface CheckpointStorage extends CheckpointStorageProvider, AutoCloseable {

    JobCheckpointStore forJob(String jobName);

    /** Releases the storage's clients; nothing of it is used afterwards. Nothing to release by default. */
    @Override
    default void close() {
    }

    /** The URI that asks for {@link MemoryCheckpointStorage} explicitly. */
    String MEMORY_URI = "memory:";

    /**
     * The storage for a URI: {@code file:///dir} or a plain path is a directory on the local file system;
     * {@code memory:} keeps checkpoints in this JVM only; any other scheme ({@code hdfs://namenode:8020/dir})
     * goes to a Hadoop file system, when Hadoop's client is on the classpath.
     *
     * @throws IllegalArgumentException naming the URI and what is supported
     */
    static CheckpointStorage fromUri(String uri) {
        if (uri.equals(MEMORY_URI) || uri.equals("memory://")) {
            return new MemoryCheckpointStorage();
        }
        if (uri.startsWith("file:")) {
            return new FileSystemCheckpointStorage(Paths.get(URI.create(uri)));
        }
        int colon = uri.indexOf("://");
        if (colon > 0) {
            if (!HadoopCheckpointStorage.available()) {
                throw new IllegalArgumentException("Checkpoint storage '" + uri + "' uses the scheme '"
                        + uri.substring(0, colon) + "', which needs a Hadoop client: add the dependencies "
                        + "org.apache.hadoop:hadoop-client-api and hadoop-client-runtime (the onceflow command line "
                        + "has them), or use a local directory, as file:///path/to/checkpoints or a plain path");
            }
            return new HadoopCheckpointStorage(URI.create(uri), java.util.Map.of());
        }
        return new FileSystemCheckpointStorage(Path.of(uri));
    }
}
