package io.onceflow.runtime.state.rocksdb;

import io.onceflow.api.state.StateDescriptor;
import io.onceflow.runtime.state.Bytes;
import io.onceflow.runtime.state.KeyGroupRange;
import io.onceflow.runtime.state.KeyedEntrySink;
import io.onceflow.runtime.state.SharedFileReader;
import io.onceflow.runtime.storage.StateHandle;
import java.io.ByteArrayOutputStream;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;

/**
 * A RocksDB native snapshot in a checkpoint (an incremental checkpoint): the files of a RocksDB
 * checkpoint of one subtask's database. SST files live in the job's shared state and are referred to
 * by every checkpoint that still contains them; the small rest (MANIFEST, CURRENT, OPTIONS) is held
 * in the checkpoint's own state stream.
 *
 * <pre>
 * UTF   database id (names its shared files)
 * int   max parallelism, int first key group, int last key group (of the database)
 * int   states, then (UTF name, byte kind, bool whole maps)*      column family = name
 * int   files, then (UTF file name, byte 0 + UTF shared path + long size | byte 1 + bytes)*
 * </pre>
 *
 * @param states the column families, in order, with whether a map state still holds whole restored maps
 */
public record NativeSnapshot(String dbId, int maxParallelism, KeyGroupRange keyGroups, List<State> states,
                             List<FileRef> files) {

    /** One column family. */
    public record State(String name, StateDescriptor.Kind kind, boolean wholeMaps) {
    }

    /** One file of the database: shared (an SST file) or held inline. */
    public record FileRef(String name, StateHandle.InFile shared, byte[] data) {
    }

    void write(DataOutput out) throws IOException {
        out.writeUTF(dbId);
        out.writeInt(maxParallelism);
        out.writeInt(keyGroups.start());
        out.writeInt(keyGroups.end());
        out.writeInt(states.size());
        for (State s : states) {
            out.writeUTF(s.name());
            out.writeByte(s.kind().ordinal());
            out.writeBoolean(s.wholeMaps());
        }
        out.writeInt(files.size());
        for (FileRef f : files) {
            out.writeUTF(f.name());
            if (f.shared() != null) {
                out.writeByte(0);
                out.writeUTF(f.shared().path());
                out.writeLong(f.shared().size());
            } else {
                out.writeByte(1);
                Bytes.writeBytes(out, f.data());
            }
        }
    }

    public static NativeSnapshot read(DataInput in) throws IOException {
        String dbId = in.readUTF();
        int maxParallelism = in.readInt();
        KeyGroupRange range = new KeyGroupRange(in.readInt(), in.readInt());
        int numStates = in.readInt();
        StateDescriptor.Kind[] kinds = StateDescriptor.Kind.values();
        List<State> states = new ArrayList<>();
        for (int i = 0; i < numStates; i++) {
            String name = in.readUTF();
            int kind = in.readByte();
            if (kind < 0 || kind >= kinds.length) {
                throw new IOException("Unknown state kind " + kind + " for state '" + name + "'");
            }
            states.add(new State(name, kinds[kind], in.readBoolean()));
        }
        int numFiles = in.readInt();
        List<FileRef> files = new ArrayList<>();
        for (int i = 0; i < numFiles; i++) {
            String name = in.readUTF();
            int where = in.readByte();
            if (where == 0) {
                files.add(new FileRef(name, new StateHandle.InFile(in.readUTF(), in.readLong()), null));
            } else {
                files.add(new FileRef(name, null, Bytes.readBytes(in)));
            }
        }
        return new NativeSnapshot(dbId, maxParallelism, range, states, files);
    }

    /** The shared files it refers to. */
    public List<StateHandle.InFile> sharedFiles() {
        return files.stream().filter(f -> f.shared() != null).map(FileRef::shared).toList();
    }

    /** Puts every file of the snapshot into {@code dir}, which becomes an openable database. */
    void materialize(Path dir, SharedFileReader reader) throws IOException {
        Files.createDirectories(dir);
        for (FileRef f : files) {
            Path target = dir.resolve(f.name());
            if (f.shared() != null) {
                reader.download(f.shared(), target);
            } else {
                Files.write(target, f.data());
            }
        }
    }

    /**
     * The generic restore: opens a temporary copy of the snapshot's database read-only and passes the rows
     * of {@code keyGroups} on to {@code sink} in the canonical form (a map state's rows gathered into one
     * serialized map per key), seeking to the first key group instead of scanning.
     */
    public static void readEntries(NativeSnapshot snapshot, KeyGroupRange keyGroups, SharedFileReader reader,
                                   KeyedEntrySink sink) throws IOException {
        withReadOnlyCopy(snapshot, reader, null, (db, handles) -> {
            for (int i = 0; i < snapshot.states().size(); i++) {
                State s = snapshot.states().get(i);
                sink.state(i, s.name(), s.kind());
            }
            for (int i = 0; i < snapshot.states().size(); i++) {
                State s = snapshot.states().get(i);
                boolean perEntryMap = s.kind() == StateDescriptor.Kind.MAP && !s.wholeMaps();
                MapGatherer maps = perEntryMap ? new MapGatherer(sink, i) : null;
                try (RocksIterator it = db.newIterator(handles.get(i + 1))) {
                    for (it.seek(firstKey(keyGroups.start())); it.isValid(); it.next()) {
                        byte[] row = it.key();
                        int keyGroup = keyGroupOf(row);
                        if (keyGroup > keyGroups.end()) {
                            break;
                        }
                        if (maps != null) {
                            maps.add(row, it.value());
                        } else {
                            sink.entry(i, keyGroup, Arrays.copyOfRange(row, 6, row.length), it.value());
                        }
                    }
                    it.status();  // a loop ended by an error (a damaged block, a failed read) fails, rows not lost
                }
                if (maps != null) {
                    maps.flush();
                }
            }
        });
    }

    static byte[] firstKey(int keyGroup) {
        return ByteBuffer.allocate(2).putShort((short) keyGroup).array();
    }

    /** The key group of a row: its first two bytes (see {@link #firstKey}). */
    static int keyGroupOf(byte[] row) {
        return ((row[0] & 0xff) << 8) | (row[1] & 0xff);
    }

    /** The key group of a row in a buffer, read from its start. */
    static int keyGroupOf(ByteBuffer row) {
        return Short.toUnsignedInt(row.getShort(0));
    }

    /** What to do with an opened read-only copy; {@code handles} are the default family, then the states in order. */
    interface CopyAction {
        void accept(RocksDB db, List<ColumnFamilyHandle> handles) throws IOException, RocksDBException;
    }

    /**
     * Downloads the snapshot's files into a new directory below {@code parent} (a RocksDB backend's working
     * directory), opens them read-only for {@code action}, and deletes them afterwards. Without a parent (a heap
     * backend reading a RocksDB checkpoint) the copy is a {@link WorkingDirectory} of its own below the temporary
     * directory, so that a copy left by a process killed while reading it is deleted by the next one.
     */
    static void withReadOnlyCopy(NativeSnapshot snapshot, SharedFileReader reader, Path parent, CopyAction action)
            throws IOException {
        RocksDB.loadLibrary();
        WorkingDirectory own = parent == null ? WorkingDirectory.create(
                Path.of(System.getProperty("java.io.tmpdir"), "onceflow-restore"), "copy-") : null;
        Path dir = own != null ? own.path() : Files.createTempDirectory(parent, "copy-");
        try {
            snapshot.materialize(dir, reader);
            List<ColumnFamilyDescriptor> descriptors = new ArrayList<>();
            try (ColumnFamilyOptions cf = new ColumnFamilyOptions(); DBOptions options = new DBOptions()) {
                descriptors.add(new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, cf));
                for (State s : snapshot.states()) {
                    descriptors.add(new ColumnFamilyDescriptor(s.name().getBytes(StandardCharsets.UTF_8), cf));
                }
                List<ColumnFamilyHandle> handles = new ArrayList<>();
                try (RocksDB db = RocksDB.openReadOnly(options, dir.toString(), descriptors, handles)) {
                    try {
                        action.accept(db, handles);
                    } finally {
                        handles.forEach(ColumnFamilyHandle::close);
                    }
                }
            }
        } catch (RocksDBException e) {
            throw new IOException("Cannot read the RocksDB snapshot " + snapshot.dbId() + ": " + e.getMessage(), e);
        } finally {
            try {
                if (own != null) {
                    own.close();
                } else {
                    io.onceflow.runtime.storage.LocalFiles.deleteRecursively(dir);
                }
            } catch (IOException e) {
                // a temporary copy, whatever is left of it: never in place of the outcome of reading it
            }
        }
    }

    /** Gathers one key's map rows (adjacent) into the serialized map the canonical format holds. */
    private static final class MapGatherer {
        private final KeyedEntrySink sink;
        private final int index;
        private final ByteArrayOutputStream map = new ByteArrayOutputStream();
        private byte[] primary;
        private int count;

        MapGatherer(KeyedEntrySink sink, int index) {
            this.sink = sink;
            this.index = index;
        }

        void add(byte[] row, byte[] value) throws IOException {
            int length = 6 + ByteBuffer.wrap(row, 2, 4).getInt();
            if (primary == null || primary.length != length || !Arrays.equals(primary, 0, length, row, 0, length)) {
                flush();
                primary = Arrays.copyOf(row, length);
            }
            map.write(row, length, row.length - length);
            map.write(value);
            count++;
        }

        void flush() throws IOException {
            if (primary == null) {
                return;
            }
            ByteArrayOutputStream value = new ByteArrayOutputStream(4 + map.size());
            new DataOutputStream(value).writeInt(count);
            map.writeTo(value);
            int keyGroup = keyGroupOf(primary);
            sink.entry(index, keyGroup, Arrays.copyOfRange(primary, 6, primary.length), value.toByteArray());
            primary = null;
            count = 0;
            map.reset();
        }
    }
}
