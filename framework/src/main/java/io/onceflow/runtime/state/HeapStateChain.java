package io.onceflow.runtime.state;

import io.onceflow.runtime.storage.ChecksummedInputStream;
import io.onceflow.runtime.storage.StateHandle;
import io.onceflow.runtime.storage.UnsynchronizedBufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutput;
import java.io.EOFException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * An incremental heap checkpoint: the keyed state of one subtask as a chain of files in the job's
 * shared state, a full base followed by deltas, each delta holding the entries changed and the keys
 * removed since the file before it. The chain's files are shared with the checkpoints that came
 * before (reference-counted like RocksDB's SST files); the checkpoint's own stream holds only the list.
 *
 * <pre>
 * in the checkpoint's stream (keyed format 3):
 *   int   max parallelism
 *   int   states, then (UTF name, byte kind)*          the same for every file of the chain
 *   int   files, then (UTF shared path, long size)*    the base first, then the deltas in order
 * each file:
 *   int   magic 0x4F464843 ("OFHC"), int version 2 (version 1 is still read)
 *   (short state index, int key group, int length + key bytes,
 *    int length + value bytes | int -1 for a removed key)*
 *   short -1
 *   int   CRC-32C of the file's bytes before it (version 2), checked as the file is read
 * </pre>
 *
 * A restore reads the files newest first and passes on, for each key, only its newest entry (nothing
 * if that is a removal): the keys decided by a delta are remembered until the base is read.
 */
public final class HeapStateChain {

    static final int FILE_MAGIC = 0x4F464843;
    static final int FILE_VERSION = 2;
    static final int REMOVED = -1;

    private HeapStateChain() {
    }

    static void writeFileHeader(DataOutput out) throws IOException {
        out.writeInt(FILE_MAGIC);
        out.writeInt(FILE_VERSION);
    }

    /** A removed key: an entry whose value length is {@value #REMOVED}, assembled in {@code entry} and written in one piece. */
    static <K> void writeRemoval(DataOutput out, ReusableBytes entry, int stateIndex, int keyGroup,
                                 io.onceflow.api.serialization.TypeSerializer<K> keySerializer, K key) throws IOException {
        SubtaskStateFormat.beginKeyedEntry(entry, stateIndex, keyGroup, keySerializer, key);
        entry.writeInt(REMOVED);
        out.write(entry.array(), 0, entry.size());
    }

    /** Ends a file written through {@code buffer} (which {@code out} writes to): its end mark and its checksum. */
    static void writeFileEnd(DataOutput out, UnsynchronizedBufferedOutputStream buffer) throws IOException {
        out.writeShort(-1);
        buffer.writeChecksum();
    }

    /** The checkpoint's own part: the states and the chain's files. */
    static void writeChain(DataOutput out, int maxParallelism, List<SubtaskStateFormat.StateInfo> states,
                           List<StateHandle.InFile> files) throws IOException {
        SubtaskStateFormat.writeKeyedHeader(out, maxParallelism, states);
        out.writeInt(files.size());
        for (StateHandle.InFile f : files) {
            out.writeUTF(f.path());
            out.writeLong(f.size());
        }
    }

    /** A chain as the checkpoint's stream lists it. */
    record Chain(int maxParallelism, int numStates, List<StateHandle.InFile> files) {
    }

    /** Reads a chain's list (after its format byte), announcing its states to {@code keyed}, if any. */
    static Chain readChain(DataInputStream in, String what, KeyedEntrySink keyed) throws IOException {
        int maxParallelism = in.readInt();
        int numStates = SubtaskStateFormat.readStates(in, what, keyed);
        int numFiles = in.readInt();
        List<StateHandle.InFile> files = new ArrayList<>(numFiles);
        for (int i = 0; i < numFiles; i++) {
            files.add(new StateHandle.InFile(in.readUTF(), in.readLong()));
        }
        return new Chain(maxParallelism, numStates, List.copyOf(files));
    }

    /**
     * Reads the files of a chain and passes the newest entry of every key within {@code keyGroups} to {@code keyed}.
     *
     * @return the max parallelism the state was written with
     */
    static int read(Chain list, String what, KeyGroupRange keyGroups, KeyedEntrySink keyed,
                    SharedFileReader files) throws IOException {
        int maxParallelism = list.maxParallelism();
        int numStates = list.numStates();
        List<StateHandle.InFile> chain = list.files();
        if (keyed == null) {
            return maxParallelism;
        }
        keyed.heapChain(chain);
        // a chain of one file decides every key in it; a longer one remembers the keys its deltas decided
        DecidedKeys decided = chain.size() > 1 ? new DecidedKeys() : null;
        byte[] buffer = new byte[256];
        for (int i = chain.size() - 1; i >= 0; i--) {
            StateHandle.InFile file = chain.get(i);
            try (ChecksummedInputStream stream = new ChecksummedInputStream(files.open(file), 64 * 1024)) {
                buffer = readFile(stream, what, file, numStates, keyGroups, keyed, decided, i > 0, buffer);
            }
        }
        return maxParallelism;
    }

    /**
     * Reads one file of a chain, each key into {@code buffer} first: a key outside {@code keyGroups} or decided by a
     * newer file is skipped, value and all, without a copy. Returns the buffer, grown if a key needed more room.
     */
    private static byte[] readFile(ChecksummedInputStream stream, String what, StateHandle.InFile file, int numStates,
                                   KeyGroupRange keyGroups, KeyedEntrySink keyed, DecidedKeys decided,
                                   boolean olderFilesFollow, byte[] buffer) throws IOException {
        DataInputStream in = new DataInputStream(stream);
        try {
            int magic = in.readInt();
            int version = in.readInt();
            if (magic != FILE_MAGIC || version < 1 || version > FILE_VERSION) {
                throw new IOException("Shared state file " + file.path() + " of " + what + " is not an Onceflow heap "
                        + "state file of versions 1 to " + FILE_VERSION + " (magic " + Integer.toHexString(magic)
                        + ", version " + version + "): the checkpoint is corrupt or was written by another Onceflow "
                        + "version");
            }
            while (true) {
                int index = in.readShort();
                if (index == -1) {
                    if (version >= 2) {
                        stream.verifyChecksum("Shared state file " + file.path() + " of " + what);
                    }
                    return buffer;
                }
                if (index < 0 || index >= numStates) {
                    throw new IOException("Shared state file " + file.path() + " of " + what + " refers to state "
                            + index + " of " + numStates + ": the checkpoint is corrupt");
                }
                int keyGroup = in.readInt();
                int keyLength = in.readInt();
                if (keyLength < 0) {
                    throw new IOException("Shared state file " + file.path() + " of " + what
                            + " holds a key of length " + keyLength + ": the checkpoint is corrupt");
                }
                buffer = Bytes.readInto(in, buffer, keyLength);
                int valueLength = in.readInt();
                if (valueLength < 0 && valueLength != REMOVED) {
                    throw new IOException("Shared state file " + file.path() + " of " + what
                            + " holds a value of length " + valueLength + ": the checkpoint is corrupt");
                }
                boolean owned = keyGroups.contains(keyGroup);
                if (valueLength == REMOVED) {
                    if (owned && olderFilesFollow) {
                        decided.add(index, buffer, keyLength); // the key's entries in older files are gone
                    }
                    continue;
                }
                boolean kept; // false: not this subtask's, or a newer file decided it already
                if (owned && olderFilesFollow) {
                    kept = decided.add(index, buffer, keyLength);
                } else {
                    kept = owned && (decided == null || !decided.contains(index, buffer, keyLength));
                }
                if (kept) {
                    keyed.entry(index, keyGroup, buffer, keyLength, in, valueLength);
                } else {
                    in.skipNBytes(valueLength);
                }
            }
        } catch (EOFException e) {
            throw new IOException("Shared state file " + file.path() + " of " + what + " ends early (" + file.size()
                    + " bytes expected): the checkpoint is corrupt", e);
        }
    }
}
