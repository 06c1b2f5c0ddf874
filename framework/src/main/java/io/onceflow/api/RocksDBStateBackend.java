package io.onceflow.api;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Keyed state in an embedded RocksDB (the {@code org.rocksdb:rocksdbjni} dependency) on local disk,
 * one database per operator subtask, a column family per named state, keys prefixed by their key
 * group. State can be far larger than the heap; every access (de)serializes. An incremental checkpoint
 * (the default) flushes the memtables and hard-links the database's files at the barrier, then uploads
 * only the SST files the last checkpoints did not; a full one takes a RocksDB snapshot at the barrier
 * and streams all of it. Either way the upload runs while the task goes on.
 *
 * <pre>{@code
 * env.setStateBackend(RocksDBStateBackend.create().withLocalDirectory(Path.of("/var/lib/app/rocksdb")));
 * }</pre>
 *
 * @param localDirectory   where the working databases live (deleted when the job ends); null: the
 *                         system's temporary directory
 * @param blockCacheBytes  the read cache shared by every database of the JVM; 0: an eighth of the
 *                         memory of the machine or container, at most 1 GiB
 * @param writeBufferBytes the size of one memtable per state; 0: 32 MiB
 * @param incrementalCheckpoints whether a checkpoint uploads only the SST files that are new since the
 *                         last one (the default: the others are shared with earlier checkpoints and
 *                         deleted once no retained checkpoint refers to them), or streams the whole state
 */
public record RocksDBStateBackend(Path localDirectory, long blockCacheBytes, long writeBufferBytes,
                                  boolean incrementalCheckpoints) implements StateBackend {

    public RocksDBStateBackend {
        if (blockCacheBytes < 0 || writeBufferBytes < 0) {
            throw new IllegalArgumentException("RocksDB cache and buffer sizes must not be negative, were "
                    + blockCacheBytes + " and " + writeBufferBytes);
        }
    }

    /** The defaults: temporary directory, cache and buffers sized from the machine's memory, incremental checkpoints. */
    public static RocksDBStateBackend create() {
        return new RocksDBStateBackend(null, 0, 0, true);
    }

    public RocksDBStateBackend withLocalDirectory(Path directory) {
        return new RocksDBStateBackend(Objects.requireNonNull(directory, "directory"), blockCacheBytes, writeBufferBytes,
                incrementalCheckpoints);
    }

    public RocksDBStateBackend withBlockCacheBytes(long bytes) {
        return new RocksDBStateBackend(localDirectory, bytes, writeBufferBytes, incrementalCheckpoints);
    }

    public RocksDBStateBackend withWriteBufferBytes(long bytes) {
        return new RocksDBStateBackend(localDirectory, blockCacheBytes, bytes, incrementalCheckpoints);
    }

    /** Incremental (the default) or full checkpoints. */
    public RocksDBStateBackend withIncrementalCheckpoints(boolean incremental) {
        return new RocksDBStateBackend(localDirectory, blockCacheBytes, writeBufferBytes, incremental);
    }

    @Override
    public String name() {
        return "rocksdb";
    }
}
