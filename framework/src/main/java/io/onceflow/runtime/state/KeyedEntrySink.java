package io.onceflow.runtime.state;

import io.onceflow.api.state.StateDescriptor;
import java.io.IOException;

/**
 * Receives keyed state read back from a checkpoint, entry by entry, so a restore never needs the whole
 * state in memory at once (a RocksDB backend writes each entry straight into its database).
 */
public interface KeyedEntrySink {

    /**
     * A named state of the snapshot being read; its entries refer to it by {@code index}. Each snapshot read
     * (several after a change of parallelism) numbers its states from 0 again, before its entries.
     */
    void state(int index, String name, StateDescriptor.Kind kind) throws IOException;

    /** One serialized key and value of state {@code index}, in a key group the receiver owns. */
    void entry(int index, int keyGroup, byte[] key, byte[] value) throws IOException;

    /**
     * As {@link #entry(int, int, byte[], byte[])}, for a key in the first {@code keyLength} bytes of a buffer the
     * caller reuses and a value that is the next {@code valueLength} bytes of {@code in}, which the receiver reads
     * (all of them) before it returns. By default both are copied into arrays of their own; a receiver that packs
     * entries together reads them straight into place.
     */
    default void entry(int index, int keyGroup, byte[] keyBuffer, int keyLength, java.io.DataInput in, int valueLength)
            throws IOException {
        byte[] value = new byte[valueLength];
        in.readFully(value);
        entry(index, keyGroup, java.util.Arrays.copyOf(keyBuffer, keyLength), value);
    }

    /**
     * Every snapshot of the restore has been read: a receiver that holds entries back to write them in
     * batches writes the rest now.
     */
    default void restoreEnded() {
    }

    /**
     * A snapshot written for the key groups {@code written} is about to be read (several after a change of
     * parallelism, one per snapshot that overlaps the receiver's key groups).
     */
    default void snapshotWrittenFor(KeyGroupRange written) {
    }

    /**
     * The snapshot being read is an incremental heap chain of these files (the base first), announced
     * after its states and before its entries: a heap backend that restored exactly its own key groups from one chain
     * can go on writing deltas of it.
     */
    default void heapChain(java.util.List<io.onceflow.runtime.storage.StateHandle.InFile> files) {
    }

    /**
     * A RocksDB native snapshot (an incremental checkpoint) to restore, for the key groups in
     * {@code keyGroups}. By default its rows are read from a temporary copy of the database and passed on
     * as canonical entries; a RocksDB backend takes its files as they are where it can.
     */
    default void restoreNative(io.onceflow.runtime.state.rocksdb.NativeSnapshot snapshot, KeyGroupRange keyGroups,
                               SharedFileReader files) throws IOException {
        io.onceflow.runtime.state.rocksdb.NativeSnapshot.readEntries(snapshot, keyGroups, files, this);
    }
}
