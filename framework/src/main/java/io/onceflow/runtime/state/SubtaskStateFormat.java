package io.onceflow.runtime.state;

import io.onceflow.api.state.StateDescriptor;
import io.onceflow.runtime.storage.ChecksummedInputStream;
import io.onceflow.runtime.storage.UnsynchronizedBufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutput;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.List;
import java.util.Map;

/**
 * The binary form of one operator subtask's state in a checkpoint, written as a stream:
 *
 * <pre>
 * int   magic 0x4F465354 ("OFST")
 * int   format version (3; versions 1 and 2 are still read)
 * ...   operator list state   ({@link OperatorStateBackend#snapshot})
 * int   CRC-32C of the bytes before it (version 3)
 * byte  keyed state: 0 none, 1 canonical (below), 2 a RocksDB native snapshot ({@code NativeSnapshot}),
 *       3 an incremental heap checkpoint ({@link HeapStateChain})
 * int   max parallelism                                  ┐
 * int   number of states, then (UTF name, byte kind)*    │ keyed state, the same for
 * (short state index, int key group,                     │ every backend, so a job can
 *  int length + key bytes, int length + value bytes)*    │ switch between them
 * short -1                      (version 1: a count before the entries instead) ┘
 * int   CRC-32C of every byte before it, the first checksum too (version 3)
 * </pre>
 *
 * The checksums find bytes changed in storage (a state read wrong without a word otherwise): the operator
 * state's is checked whenever the state is read, the whole stream's when its keyed part is read.
 */
public final class SubtaskStateFormat {

    public static final int MAGIC = 0x4F465354;
    public static final int VERSION = 3;
    private static final int END = -1;
    public static final int KEYED_NONE = 0;
    public static final int KEYED_CANONICAL = 1;
    public static final int KEYED_ROCKSDB_NATIVE = 2;
    public static final int KEYED_HEAP_CHAIN = 3;

    /** A named keyed state of a snapshot, in the order its entries refer to it. */
    public record StateInfo(String name, StateDescriptor.Kind kind) {
    }

    private SubtaskStateFormat() {
    }

    /** The operator list state's bytes: small, taken on the task thread. */
    public static byte[] operatorState(OperatorStateBackend operatorState) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(128);
        DataOutputStream out = new DataOutputStream(bytes);
        operatorState.snapshot(out);
        out.flush();
        return bytes.toByteArray();
    }

    /**
     * Writes a whole subtask state to {@code target} through a buffer of its own: the operator state bytes, then the
     * keyed snapshot (or none), each followed by a checksum. Flushes the target, which stays open.
     */
    public static void write(OutputStream target, byte[] operatorState, KeyedStateSnapshot keyed,
                             KeyedStateSnapshot.SharedFiles shared) throws IOException {
        UnsynchronizedBufferedOutputStream buffer = new UnsynchronizedBufferedOutputStream(target, 64 * 1024);
        DataOutputStream out = new DataOutputStream(buffer);
        out.writeInt(MAGIC);
        out.writeInt(VERSION);
        out.write(operatorState);
        buffer.writeChecksum();
        out.writeByte(keyed == null ? KEYED_NONE : keyed.format(shared));
        if (keyed != null) {
            keyed.write(out, shared);
        }
        buffer.writeChecksum();
        out.flush();
    }

    /** A whole snapshot as bytes, taken and written at once (for tests and the operator harness). */
    public static byte[] toBytes(OperatorStateBackend operatorState, KeyedStateBackend keyedState, long checkpointId)
            throws Exception {
        KeyedStateSnapshot keyed = keyedState == null ? null : keyedState.snapshot(checkpointId);
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(256);
            write(bytes, operatorState(operatorState), keyed, KeyedStateSnapshot.SharedFiles.NONE);
            return bytes.toByteArray();
        } finally {
            if (keyed != null) {
                keyed.release();
            }
        }
    }

    public static void writeKeyedHeader(DataOutput out, int maxParallelism, List<StateInfo> states) throws IOException {
        out.writeInt(maxParallelism);
        out.writeInt(states.size());
        for (StateInfo s : states) {
            out.writeUTF(s.name());
            out.writeByte(s.kind().ordinal());
        }
    }

    public static void writeKeyedEntry(DataOutput out, int stateIndex, int keyGroup, byte[] key, byte[] value)
            throws IOException {
        writeKeyedEntry(out, stateIndex, keyGroup, key, 0, key.length, value, 0, value.length);
    }

    /** One keyed entry from ranges of arrays: a database row's key behind its prefix, entries packed together. */
    public static void writeKeyedEntry(DataOutput out, int stateIndex, int keyGroup, byte[] key, int keyOffset,
                                       int keyLength, byte[] value, int valueOffset, int valueLength)
            throws IOException {
        writeKeyedEntryHead(out, stateIndex, keyGroup);
        out.writeInt(keyLength);
        out.write(key, keyOffset, keyLength);
        out.writeInt(valueLength);
        out.write(value, valueOffset, valueLength);
    }

    /**
     * One keyed entry, its key and value serialized straight into {@code entry} (reset here) behind its head and
     * their lengths, then written to {@code out} in one piece: the same bytes as from serialized arrays.
     */
    static <K, V> void writeKeyedEntry(DataOutput out, ReusableBytes entry, int stateIndex, int keyGroup,
                                       io.onceflow.api.serialization.TypeSerializer<K> keySerializer, K key,
                                       io.onceflow.api.serialization.TypeSerializer<V> valueSerializer, V value)
            throws IOException {
        beginKeyedEntry(entry, stateIndex, keyGroup, keySerializer, key);
        int valueLength = entry.skipInt();
        valueSerializer.serialize(value, entry);
        entry.fillLength(valueLength);
        out.write(entry.array(), 0, entry.size());
    }

    /** Resets {@code entry} to an entry's head and its key behind the key's length (the value's part follows). */
    static <K> void beginKeyedEntry(ReusableBytes entry, int stateIndex, int keyGroup,
                                    io.onceflow.api.serialization.TypeSerializer<K> keySerializer, K key)
            throws IOException {
        entry.reset();
        writeKeyedEntryHead(entry, stateIndex, keyGroup);
        int keyLength = entry.skipInt();
        keySerializer.serialize(key, entry);
        entry.fillLength(keyLength);
    }

    /** What every keyed entry begins with (then the key's and the value's length and bytes). */
    private static void writeKeyedEntryHead(DataOutput out, int stateIndex, int keyGroup) throws IOException {
        out.writeShort(stateIndex);
        out.writeInt(keyGroup);
    }

    public static void writeKeyedEnd(DataOutput out) throws IOException {
        out.writeShort(END);
    }

    /**
     * Reads the named states of a keyed header (after its max parallelism, as {@link #writeKeyedHeader} wrote
     * them) and announces each to {@code keyed}, if any.
     *
     * @return how many there are
     */
    static int readStates(java.io.DataInput in, String what, KeyedEntrySink keyed) throws IOException {
        int numStates = in.readInt();
        StateDescriptor.Kind[] kinds = StateDescriptor.Kind.values();
        for (int i = 0; i < numStates; i++) {
            String name = in.readUTF();
            int kind = in.readByte();
            if (kind < 0 || kind >= kinds.length) {
                throw new IOException("Unknown state kind " + kind + " for state '" + name + "' of " + what);
            }
            if (keyed != null) {
                keyed.state(i, name, kinds[kind]);
            }
        }
        return numStates;
    }

    /**
     * Reads one subtask's state: its operator lists are added to {@code operatorLists}, and its keyed
     * entries within {@code keyGroups} go to {@code keyed} one by one; with no key groups the keyed part is not read.
     *
     * @param what names the state in error messages (operator uid, subtask, checkpoint)
     * @return the max parallelism the keyed state was written with, or -1 without keyed state (or none read)
     */
    public static int read(InputStream stream, String what, Map<String, List<byte[]>> operatorLists,
                           KeyGroupRange keyGroups, KeyedEntrySink keyed) throws IOException {
        return read(stream, what, operatorLists, keyGroups, keyed, SharedFileReader.NONE);
    }

    /** As above; {@code files} reads the shared files of a RocksDB native snapshot. */
    public static int read(InputStream stream, String what, Map<String, List<byte[]>> operatorLists,
                           KeyGroupRange keyGroups, KeyedEntrySink keyed, SharedFileReader files) throws IOException {
        ChecksummedInputStream checked = new ChecksummedInputStream(stream, 64 * 1024);
        DataInputStream in = new DataInputStream(checked);
        int magic = in.readInt();
        if (magic != MAGIC) {
            throw new IOException("State of " + what + " is not Onceflow state data (bad magic number "
                    + Integer.toHexString(magic) + "): the checkpoint is corrupt");
        }
        int version = in.readInt();
        if (version < 1 || version > VERSION) {
            throw new IOException("State of " + what + " has format version " + version
                    + ", but this Onceflow reads versions 1 to " + VERSION + " only: restore it with the Onceflow "
                    + "version that wrote it, or start the job fresh (resumeFromLatestCheckpoint=false)");
        }
        Map<String, List<byte[]>> lists = OperatorStateBackend.read(in);
        for (Map.Entry<String, List<byte[]>> e : lists.entrySet()) {
            operatorLists.computeIfAbsent(e.getKey(), k -> new java.util.ArrayList<>()).addAll(e.getValue());
        }
        boolean checksums = version >= 3;
        if (checksums) {
            checked.verifyChecksum("The operator state of " + what);
        }
        int keyedFormat = in.readByte();
        if (keyedFormat == KEYED_NONE) {
            if (checksums) {
                checked.verifyChecksum("The state of " + what);
            }
            return -1;
        }
        if (keyGroups.isEmpty()) {
            return -1; // none of the keyed state wanted: not read (not downloaded, for shared files)
        }
        if (keyedFormat == KEYED_ROCKSDB_NATIVE) {
            io.onceflow.runtime.state.rocksdb.NativeSnapshot snapshot = io.onceflow.runtime.state.rocksdb.NativeSnapshot.read(in);
            if (checksums) {
                checked.verifyChecksum("The state of " + what);
            }
            if (keyed != null) {
                keyed.restoreNative(snapshot, keyGroups, files);
            }
            return snapshot.maxParallelism();
        }
        if (keyedFormat == KEYED_HEAP_CHAIN) {
            HeapStateChain.Chain chain = HeapStateChain.readChain(in, what, keyed);
            if (checksums) {
                checked.verifyChecksum("The state of " + what);
            }
            return HeapStateChain.read(chain, what, keyGroups, keyed, files);
        }
        if (keyedFormat != KEYED_CANONICAL) {
            throw new IOException("State of " + what + " has an unknown keyed state format " + keyedFormat);
        }
        int maxParallelism = in.readInt();
        readStates(in, what, keyed);
        long remaining = version == 1 ? in.readInt() : Long.MAX_VALUE;
        byte[] key = new byte[256]; // each key is read into it, and copied only by a receiver that keeps it
        while (remaining-- > 0) {
            int index = in.readShort();
            if (index == END && version != 1) {
                break;
            }
            int keyGroup = in.readInt();
            int keyLength = Bytes.readLength(in);
            key = Bytes.readInto(in, key, keyLength);
            int valueLength = Bytes.readLength(in);
            if (keyed != null && keyGroups.contains(keyGroup)) {
                keyed.entry(index, keyGroup, key, keyLength, in, valueLength);
            } else {
                in.skipNBytes(valueLength);
            }
        }
        if (checksums) {
            checked.verifyChecksum("The state of " + what);
        }
        return maxParallelism;
    }
}
