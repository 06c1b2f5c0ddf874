package io.onceflow.runtime.state.rocksdb;

import static io.onceflow.runtime.state.rocksdb.NativeSnapshot.keyGroupOf;

import io.onceflow.api.RocksDBStateBackend;
import io.onceflow.api.functions.ReduceFunction;
import io.onceflow.api.serialization.Serializers;
import io.onceflow.api.serialization.TypeSerializer;
import io.onceflow.api.state.ListState;
import io.onceflow.api.state.ListStateDescriptor;
import io.onceflow.api.state.MapState;
import io.onceflow.api.state.MapStateDescriptor;
import io.onceflow.api.state.ReducingState;
import io.onceflow.api.state.ReducingStateDescriptor;
import io.onceflow.api.state.StateDescriptor;
import io.onceflow.api.state.ValueState;
import io.onceflow.api.state.ValueStateDescriptor;
import io.onceflow.runtime.state.Bytes;
import io.onceflow.runtime.state.KeyGroupRange;
import io.onceflow.runtime.state.KeyGroups;
import io.onceflow.runtime.state.KeyedEntrySink;
import io.onceflow.runtime.state.KeyedStateBackend;
import io.onceflow.runtime.state.KeyedStateSnapshot;
import io.onceflow.runtime.state.StableKeys;
import io.onceflow.runtime.state.SubtaskStateFormat;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.stream.Stream;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.Snapshot;
import org.rocksdb.WriteOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keyed state of one operator subtask in an embedded RocksDB on local disk.
 *
 * <h2>Layout</h2>
 * A column family per named state. A row's key is {@code [key group: 2 bytes][key length: 4 bytes]
 * [serialized key]}, and for map state also {@code [serialized user key]}; so the rows of one key
 * group, and of one key's map, are contiguous, and a range of key groups is one seek. Values hold the
 * serialized value (value and reducing state), the serialized list (list state), or one map entry's
 * serialized value (map state). Writes skip the write-ahead log: a crash loses the working database,
 * and the job restores from its checkpoint anyway.
 *
 * <h2>Checkpoints</h2>
 * {@link #snapshot} takes a RocksDB snapshot (O(1)) on the task thread; another thread then iterates
 * it and streams the canonical keyed format (maps gathered back per key), so a heap backend can
 * restore it too. A restore writes rows that arrive in the database's order (a full checkpoint of this
 * backend, another database's rows at another parallelism) into SST files moved into the database whole,
 * and others a write batch at a time; map states arrive as whole serialized maps and are split into rows
 * when the state is registered (when its serializers are known).
 *
 * <p>Used by the subtask's thread only, apart from the snapshots it hands out.
 */
public final class RocksDBKeyedStateBackend implements KeyedStateBackend, KeyedEntrySink {

    private static final Logger LOG = LoggerFactory.getLogger(RocksDBKeyedStateBackend.class);

    static {
        RocksDB.loadLibrary();
    }

    private final String operatorUid;
    private final TypeSerializer<Object> keySerializer;
    private final int maxParallelism;
    private final KeyGroupRange keyGroupRange;
    private final Path directory;
    /**
     * Holds {@link #directory} (the database), the local checkpoints and a restore's copies of old snapshots;
     * locked while this backend is open, so that a later process knows it is in use.
     */
    private final WorkingDirectory workingDirectory;
    private final boolean incremental;
    /** Names this database's files in the shared state: new for every backend instance. */
    private final String dbId = java.util.UUID.randomUUID().toString();
    /** Local SST file name -> where an earlier checkpoint uploaded it (snapshot threads share it). */
    private final Map<String, io.onceflow.runtime.storage.StateHandle.InFile> uploaded =
            new java.util.concurrent.ConcurrentHashMap<>();
    private RocksDB db;
    private final DBOptions dbOptions;
    private final ColumnFamilyOptions cfOptions;
    private final WriteOptions writeOptions;
    private final ReadOptions readOptions;
    private final List<ColumnFamilyHandle> handles = new ArrayList<>();
    private final LinkedHashMap<String, Column> columns = new LinkedHashMap<>();
    private final List<Column> reading = new ArrayList<>();
    /**
     * Rows a restore has read and not yet written: they go into the database a batch at a time, one write
     * (one lock, one memtable insertion group) per {@link #RESTORE_BATCH_ROWS} rows or
     * {@link #RESTORE_BATCH_BYTES} bytes instead of one per row. Written out when the restore ends, and
     * before anything else reads the database.
     */
    private org.rocksdb.WriteBatch restoreBatch;
    private int restoreBatchRows;
    private long restoreBatchBytes;
    static final int RESTORE_BATCH_ROWS = 1000;
    static final long RESTORE_BATCH_BYTES = 2L << 20;
    /** A restored state whose rows come out of order within this many is restored in write batches. */
    static final int MIN_RUN_ROWS = 1000;
    private int openRuns;
    /** Buffers for the rows a restore copies out of another database ({@link #copyRows}), and its files' count. */
    private ByteBuffer copyKey = ByteBuffer.allocateDirect(256);
    private ByteBuffer copyValue = ByteBuffer.allocateDirect(1024);
    private int restoreFiles;
    private final ByteArrayOutputStream keyBuffer = new ByteArrayOutputStream(64);
    private final DataOutputStream keyOut = new DataOutputStream(keyBuffer);
    private Object currentKey;
    private final StableKeys.RecordKeyCheck keyCheck;
    private byte[] currentKeyBytes;
    // guarded by this: the database closes when the backend is closed AND no snapshot is being written
    private int openSnapshots;
    private boolean closeRequested;
    private boolean closed;

    /** One named state: its column family, its kind, and whether it still holds restored whole maps. */
    private static final class Column {
        final String name;
        final StateDescriptor.Kind kind;
        final ColumnFamilyHandle handle;
        boolean registered;
        boolean holdsWholeMaps;
        /** The SST file a restore writes this state's rows into while they come in ascending order, or null. */
        IngestedFile run;
        byte[] lastRunRow;
        /** Set once a restore's rows of this state came out of order early: the rest go into write batches. */
        boolean restoreInBatches;

        Column(String name, StateDescriptor.Kind kind, ColumnFamilyHandle handle) {
            this.name = name;
            this.kind = kind;
            this.handle = handle;
        }
    }

    public RocksDBKeyedStateBackend(String jobName, String operatorUid, int subtask, TypeSerializer<Object> keySerializer,
                                    int maxParallelism, KeyGroupRange keyGroupRange, RocksDBStateBackend config) {
        this.operatorUid = operatorUid;
        this.keyCheck = new StableKeys.RecordKeyCheck(operatorUid);
        this.keySerializer = keySerializer != null ? keySerializer : Serializers.dynamic();
        this.maxParallelism = maxParallelism;
        this.keyGroupRange = keyGroupRange;
        Path base = config.localDirectory() != null ? config.localDirectory()
                : Path.of(System.getProperty("java.io.tmpdir"), "onceflow-rocksdb");
        try {
            Files.createDirectories(base);
            this.workingDirectory = WorkingDirectory.create(base,
                    safe(jobName + "-" + operatorUid + "-" + subtask + "-"));
            this.directory = Files.createDirectory(workingDirectory.path().resolve("db"));
        } catch (IOException e) {
            throw new IllegalStateException("Cannot create a RocksDB working directory below " + base + " ("
                    + e.getMessage() + "): choose a writable local directory with RocksDBStateBackend.withLocalDirectory",
                    e);
        }
        this.incremental = config.incrementalCheckpoints();
        this.dbOptions = RocksDBResources.dbOptions();
        this.cfOptions = RocksDBResources.columnFamilyOptions(config);
        this.writeOptions = new WriteOptions().setDisableWAL(true);
        this.readOptions = new ReadOptions();
    }

    /** The database, opened empty on first use unless a restore opened it on a snapshot's files. */
    private RocksDB db() {
        if (db == null) {
            open(List.of());
        }
        return db;
    }

    /** Opens the database in {@link #directory} with the column families of {@code states}. */
    private void open(List<NativeSnapshot.State> states) {
        List<ColumnFamilyDescriptor> descriptors = new ArrayList<>();
        descriptors.add(new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, cfOptions));
        for (NativeSnapshot.State s : states) {
            descriptors.add(new ColumnFamilyDescriptor(s.name().getBytes(java.nio.charset.StandardCharsets.UTF_8), cfOptions));
        }
        List<ColumnFamilyHandle> opened = new ArrayList<>();
        try {
            this.db = RocksDB.open(dbOptions, directory.toString(), descriptors, opened);
        } catch (RocksDBException e) {
            throw new IllegalStateException("Cannot open RocksDB in " + directory + ": " + e.getMessage(), e);
        }
        handles.addAll(opened);
        for (int i = 0; i < states.size(); i++) {
            NativeSnapshot.State s = states.get(i);
            Column c = new Column(s.name(), s.kind(), opened.get(i + 1));
            c.holdsWholeMaps = s.wholeMaps();
            columns.put(s.name(), c);
        }
    }

    private static String safe(String s) {
        return s.replaceAll("[^A-Za-z0-9._-]", "_");
    }

    /** The working directory (tests). */
    public Path directory() {
        return directory;
    }

    // ------------------------------------------------------------------ columns

    private Column column(String name, StateDescriptor.Kind kind) {
        Column c = columns.get(name);
        if (c != null) {
            return c;
        }
        try {
            ColumnFamilyHandle h = db().createColumnFamily(new ColumnFamilyDescriptor(name.getBytes(
                    java.nio.charset.StandardCharsets.UTF_8), cfOptions));
            handles.add(h);
            c = new Column(name, kind, h);
            columns.put(name, c);
            return c;
        } catch (RocksDBException e) {
            throw new IllegalStateException("Cannot create the RocksDB column family of state '" + name + "': "
                    + e.getMessage(), e);
        }
    }

    private Column register(StateDescriptor<?, ?> d) {
        writeRestored();
        Column c = columns.get(d.getName());
        if (c != null && c.kind != d.getKind()) {
            throw new IllegalStateException("State '" + d.getName() + "' of operator '" + operatorUid + "' "
                    + (c.registered ? "is registered as " : "was checkpointed as ") + c.kind + " state but is now "
                    + "requested as " + d.getKind() + " state: keep the kind of a state, or give it another name");
        }
        c = column(d.getName(), d.getKind());
        c.registered = true;
        return c;
    }

    // ------------------------------------------------------------------ restore

    @Override
    public void state(int index, String name, StateDescriptor.Kind kind) throws IOException {
        if (index == 0) {
            reading.clear();
        }
        Column c = columns.get(name);
        if (c != null && c.kind != kind) {
            throw new IOException("State '" + name + "' of operator '" + operatorUid + "' is " + kind + " state in one "
                    + "snapshot and " + c.kind + " state in another");
        }
        c = column(name, kind);
        if (kind == StateDescriptor.Kind.MAP) {
            c.holdsWholeMaps = true;
        }
        reading.add(c);
    }

    @Override
    public void entry(int index, int keyGroup, byte[] key, byte[] value) throws IOException {
        Column c = reading.get(index);
        try {
            restoreRow(c, rowKey(keyGroup, key, null), value);
        } catch (RocksDBException e) {
            throw new IOException("Cannot restore state '" + c.name + "' into RocksDB: " + e.getMessage(), e);
        }
    }

    @Override
    public void restoreEnded() {
        writeRestored();
    }

    /**
     * A restored row of a canonical snapshot. A full checkpoint of this backend hands a state's rows over in
     * the database's order: they are written into an SST file that is moved into the database whole once the
     * state's rows end ({@link IngestedFile}), with no memtable insertion per row. A row that does not sort
     * after the one before it ends the file, and if that came within {@link #MIN_RUN_ROWS} rows (another
     * backend's checkpoint, in its own order), the state's remaining rows go into write batches instead.
     */
    private void restoreRow(Column c, byte[] row, byte[] value) throws RocksDBException, IOException {
        if (!c.restoreInBatches) {
            if (c.run != null && Arrays.compareUnsigned(row, c.lastRunRow) <= 0) {
                boolean shortRun = c.run.rows() < MIN_RUN_ROWS;
                endRun(c);
                c.restoreInBatches = shortRun;
            }
            if (!c.restoreInBatches) {
                if (c.run == null) {
                    c.run = newRestoreFile();
                    openRuns++;
                }
                c.run.put(row, value);
                c.lastRunRow = row;
                return;
            }
        }
        restorePut(c, row, value);
    }

    /** Moves a state's SST file of restored rows into the database, after the rows batched before them. */
    private void endRun(Column c) throws RocksDBException, IOException {
        IngestedFile run = c.run;
        c.run = null;
        c.lastRunRow = null;
        openRuns--;
        try (run) {
            writeRestoreBatch();
            run.ingest(db(), c.handle);
        }
    }

    /**
     * Writes every restored row not yet in the database (files and batches): at the end of a restore, and
     * before the database is read, registered or snapshot. A no-op once they are written.
     */
    private void writeRestored() {
        if (openRuns > 0) {
            for (Column c : columns.values()) {
                if (c.run != null) {
                    try {
                        endRun(c);
                    } catch (RocksDBException | IOException e) {
                        throw new IllegalStateException("Cannot restore state '" + c.name + "' of operator '"
                                + operatorUid + "' into RocksDB: " + e.getMessage(), e);
                    }
                }
            }
        }
        writeRestoreBatch();
    }

    private void restorePut(Column c, byte[] row, byte[] value) throws RocksDBException {
        restoreBatch().put(c.handle, row, value);
        restoreBatched(row.length + value.length);
    }

    private void restoreDelete(Column c, byte[] row) throws RocksDBException {
        restoreBatch().delete(c.handle, row);
        restoreBatched(row.length);
    }

    private org.rocksdb.WriteBatch restoreBatch() {
        if (restoreBatch == null) {
            restoreBatch = new org.rocksdb.WriteBatch();
        }
        return restoreBatch;
    }

    /** Counts a row just added to the batch, and writes the batch once it is full. */
    private void restoreBatched(int bytes) {
        restoreBatchBytes += bytes;
        if (++restoreBatchRows >= RESTORE_BATCH_ROWS || restoreBatchBytes >= RESTORE_BATCH_BYTES) {
            writeRestoreBatch();
        }
    }

    /**
     * Writes the restored rows not yet written, if any, and lets the batch go: at the end of a restore, and
     * before the database is read or written otherwise.
     */
    private void writeRestoreBatch() {
        if (restoreBatch == null) {
            return;
        }
        try {
            db().write(writeOptions, restoreBatch);
        } catch (RocksDBException e) {
            throw new IllegalStateException("Cannot restore the state of operator '" + operatorUid
                    + "' into RocksDB: " + e.getMessage(), e);
        } finally {
            restoreBatch.close();
            restoreBatch = null;
            restoreBatchRows = 0;
            restoreBatchBytes = 0;
        }
    }

    /**
     * The first native snapshot read, before anything else, becomes this subtask's database as its files
     * are (and its SST files need no upload again): at the parallelism it was taken with, that is the whole
     * restore; at another, the rows of key groups this subtask does not own are deleted as ranges (the
     * files keep them until RocksDB compacts them away; no read sees them), as Flink's RocksDB backend clips
     * a database on rescaling. The rows of this subtask's key groups in any further snapshot are copied
     * from a read-only copy of it, with a seek to the first one, into an SST file per state.
     */
    @Override
    public void restoreNative(NativeSnapshot snapshot, KeyGroupRange keyGroups, io.onceflow.runtime.state.SharedFileReader files)
            throws IOException {
        if (db == null && columns.isEmpty() && snapshot.keyGroups().intersects(keyGroupRange)
                && snapshot.maxParallelism() == maxParallelism) {
            snapshot.materialize(directory, files);
            open(snapshot.states());
            for (NativeSnapshot.FileRef f : snapshot.files()) {
                if (f.shared() != null) {
                    uploaded.put(f.name(), f.shared());
                }
            }
            if (!snapshot.keyGroups().equals(keyGroupRange)) {
                clip(snapshot.keyGroups());
            }
            LOG.debug("Operator '{}': RocksDB restored from the files of snapshot {}", operatorUid, snapshot.dbId());
            return;
        }
        NativeSnapshot.withReadOnlyCopy(snapshot, files, workingDirectory.path(), (source, sourceHandles) -> {
            for (int i = 0; i < snapshot.states().size(); i++) {
                NativeSnapshot.State s = snapshot.states().get(i);
                Column c = columns.get(s.name());
                if (c != null && c.kind != s.kind()) {
                    throw new IOException("State '" + s.name() + "' of operator '" + operatorUid + "' is " + s.kind()
                            + " state in one snapshot and " + c.kind + " state in another");
                }
                c = column(s.name(), s.kind());
                if (s.kind() == StateDescriptor.Kind.MAP && c.holdsWholeMaps != s.wholeMaps()
                        && (c.holdsWholeMaps || hasRows(c))) {
                    throw new IOException("Map state '" + s.name() + "' of operator '" + operatorUid + "' was "
                            + "checkpointed in two forms by the subtasks restored here; restore it at the parallelism "
                            + "it was taken with first");
                }
                c.holdsWholeMaps = s.wholeMaps();
                copyRows(source, sourceHandles.get(i + 1), keyGroups, c);
            }
        });
    }

    /**
     * Copies the rows of {@code keyGroups} in one state of another database into this one's column: read in
     * order through direct buffers and written into an SST file that is then moved into the database whole.
     */
    private void copyRows(RocksDB source, ColumnFamilyHandle from, KeyGroupRange keyGroups, Column c)
            throws IOException, RocksDBException {
        try (IngestedFile out = newRestoreFile();
             ReadOptions once = new ReadOptions().setFillCache(false).setReadaheadSize(2L << 20);
             RocksIterator it = source.newIterator(from, once)) {
            for (it.seek(NativeSnapshot.firstKey(keyGroups.start())); it.isValid(); it.next()) {
                copyKey = read(it, copyKey, true);
                if (keyGroupOf(copyKey) > keyGroups.end()) {
                    break;
                }
                copyValue = read(it, copyValue, false);
                out.put(copyKey, copyValue);
            }
            it.status();  // the loop ended by an error, not at the end: fail rather than lose the rows after it
            writeRestored();
            out.ingest(db(), c.handle);
        }
    }

    /** A new SST file for restored rows, in the database's directory until it is moved into the database. */
    private IngestedFile newRestoreFile() throws RocksDBException {
        return new IngestedFile(directory.resolve("restore-" + (++restoreFiles) + ".sst"), dbOptions, cfOptions);
    }

    /** The iterator's current key or value in {@code buffer}, or in a larger one if it does not fit. */
    private static ByteBuffer read(RocksIterator it, ByteBuffer buffer, boolean key) {
        buffer.clear();
        int n = key ? it.key(buffer) : it.value(buffer);
        if (n > buffer.capacity()) {
            buffer = ByteBuffer.allocateDirect(Math.max(n, 2 * buffer.capacity()));
            n = key ? it.key(buffer) : it.value(buffer);
        }
        return buffer;
    }

    /** Deletes the rows of the key groups in {@code held} that this subtask does not own, in every state. */
    private void clip(KeyGroupRange held) throws IOException {
        try {
            for (Column c : columns.values()) {
                if (held.start() < keyGroupRange.start()) {
                    db.deleteRange(c.handle, writeOptions, NativeSnapshot.firstKey(held.start()),
                            NativeSnapshot.firstKey(keyGroupRange.start()));
                }
                if (held.end() > keyGroupRange.end()) {
                    db.deleteRange(c.handle, writeOptions, NativeSnapshot.firstKey(keyGroupRange.end() + 1),
                            NativeSnapshot.firstKey(held.end() + 1));
                }
            }
        } catch (RocksDBException e) {
            throw new IOException("Cannot delete the rows of other subtasks' key groups from the restored RocksDB "
                    + "database of operator '" + operatorUid + "': " + e.getMessage(), e);
        }
    }

    private boolean hasRows(Column c) {
        writeRestored();
        try (RocksIterator it = db().newIterator(c.handle)) {
            it.seekToFirst();
            if (!it.isValid()) {
                it.status();
            }
            return it.isValid();
        } catch (RocksDBException e) {
            throw new IllegalStateException("Cannot read state '" + c.name + "' of operator '" + operatorUid
                    + "' from RocksDB: " + e.getMessage(), e);
        }
    }

    /**
     * Splits restored whole maps into one row per entry, now that the map's serializers are known: streamed
     * from an iterator (which sees the database as it was when it was created, not the rows written since) into
     * write batches, so that no more than a batch of them is in memory at once. Waits first for a checkpoint that
     * is still taking its files, which must hold the whole maps its states say they hold.
     */
    private <UK, UV> void splitRestoredMaps(Column c, TypeSerializer<UK> ks, TypeSerializer<UV> vs) {
        if (!c.holdsWholeMaps) {
            return;
        }
        settleOverlay(true);
        c.holdsWholeMaps = false;
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(buffer);
        try (RocksIterator it = db().newIterator(c.handle)) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                byte[] row = it.key();
                java.io.DataInputStream in = new java.io.DataInputStream(new java.io.ByteArrayInputStream(it.value()));
                int n = in.readInt();
                restoreDelete(c, row);
                for (int i = 0; i < n; i++) {
                    UK uk = ks.deserialize(in);
                    UV uv = vs.deserialize(in);
                    buffer.reset();
                    ks.serialize(uk, out);
                    out.flush();
                    restorePut(c, concat(row, buffer.toByteArray()), Bytes.toBytes(vs, uv));
                }
            }
            it.status();
            writeRestoreBatch();
        } catch (RocksDBException e) {
            throw new IllegalStateException("Cannot restore map state '" + c.name + "' of operator '" + operatorUid
                    + "' into RocksDB: " + e.getMessage(), e);
        } catch (IOException e) {
            throw new IllegalStateException("Cannot restore map state '" + c.name + "' of operator '" + operatorUid
                    + "': " + e.getMessage(), e);
        }
    }

    // ------------------------------------------------------------------ keys

    @Override
    public void setCurrentKey(Object key) {
        if (key != currentKey || key == null) {
            keyCheck.check(key);
            try {
                keyBuffer.reset();
                keySerializer.serialize(key, keyOut);
                keyOut.flush();
            } catch (IOException e) {
                throw new UncheckedIOException("Cannot serialize the key " + key + " of operator '" + operatorUid + "'", e);
            }
            currentKeyBytes = rowKey(KeyGroups.keyGroupFor(key, maxParallelism), keyBuffer.toByteArray(), null);
        }
        currentKey = key;
    }

    @Override
    public Object getCurrentKey() {
        return currentKey;
    }

    @Override
    public KeyGroupRange getKeyGroupRange() {
        return keyGroupRange;
    }

    private byte[] key() {
        if (currentKeyBytes == null) {
            throw new IllegalStateException("Keyed state of operator '" + operatorUid
                    + "' was used outside of processing a record: there is no current key");
        }
        return currentKeyBytes;
    }

    /** {@code [key group: 2][key length: 4][key][user key]}. */
    static byte[] rowKey(int keyGroup, byte[] key, byte[] userKey) {
        ByteBuffer b = ByteBuffer.allocate(6 + key.length + (userKey == null ? 0 : userKey.length));
        b.putShort((short) keyGroup).putInt(key.length).put(key);
        if (userKey != null) {
            b.put(userKey);
        }
        return b.array();
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    private static int primaryLength(byte[] row) {
        return 6 + ByteBuffer.wrap(row, 2, 4).getInt();
    }

    // ------------------------------------------------------------------ access

    // ------------------------------------------------------------------ the write overlay

    /*
     * While a checkpoint's files are being taken (a RocksDB checkpoint, which flushes the memtables) on a
     * snapshot thread, the database must hold exactly the state of the barrier: the task's writes go to
     * this overlay instead (task thread only), and reads look here first. Once the files are taken, the
     * task writes the overlay into the database at its next state access. So the task pauses only for
     * the O(1) switch at the barrier and for writing the few writes made meanwhile.
     */
    private static final byte[] TOMBSTONE = new byte[0];
    private Map<Column, java.util.TreeMap<byte[], byte[]>> overlay;
    private java.util.concurrent.CompletableFuture<Void> filesTaken;

    private java.util.TreeMap<byte[], byte[]> overlayOf(Column c) {
        return overlay.computeIfAbsent(c, x -> new java.util.TreeMap<>(Arrays::compareUnsigned));
    }

    /** Writes the overlay into the database once the checkpoint's files are taken. Task thread. */
    private void settleOverlay(boolean wait) {
        if (overlay == null || (!wait && !filesTaken.isDone())) {
            return;
        }
        filesTaken.join();
        try (org.rocksdb.WriteBatch batch = new org.rocksdb.WriteBatch()) {
            for (Map.Entry<Column, java.util.TreeMap<byte[], byte[]>> e : overlay.entrySet()) {
                for (Map.Entry<byte[], byte[]> row : e.getValue().entrySet()) {
                    if (row.getValue() == TOMBSTONE) {
                        batch.delete(e.getKey().handle, row.getKey());
                    } else {
                        batch.put(e.getKey().handle, row.getKey(), row.getValue());
                    }
                }
            }
            overlay = null;
            filesTaken = null;
            db().write(writeOptions, batch);
        } catch (RocksDBException e) {
            throw new IllegalStateException("RocksDB write of operator '" + operatorUid + "' failed: " + e.getMessage(), e);
        }
    }

    private byte[] get(Column c, byte[] rowKey) {
        settleOverlay(false);
        if (overlay != null) {
            byte[] v = overlayOf(c).get(rowKey);
            if (v != null) {
                return v == TOMBSTONE ? null : v;
            }
        }
        try {
            return db().get(c.handle, readOptions, rowKey);
        } catch (RocksDBException e) {
            throw new IllegalStateException("RocksDB read of state '" + c.name + "' failed: " + e.getMessage(), e);
        }
    }

    private void put(Column c, byte[] rowKey, byte[] value) {
        settleOverlay(false);
        if (overlay != null) {
            overlayOf(c).put(rowKey, value);
            return;
        }
        try {
            db().put(c.handle, writeOptions, rowKey, value);
        } catch (RocksDBException e) {
            throw new IllegalStateException("RocksDB write of state '" + c.name + "' failed: " + e.getMessage(), e);
        }
    }

    private void delete(Column c, byte[] rowKey) {
        settleOverlay(false);
        if (overlay != null) {
            overlayOf(c).put(rowKey, TOMBSTONE);
            return;
        }
        try {
            db().delete(c.handle, writeOptions, rowKey);
        } catch (RocksDBException e) {
            throw new IllegalStateException("RocksDB delete of state '" + c.name + "' failed: " + e.getMessage(), e);
        }
    }

    /** The rows starting with {@code prefix}, the overlay's over the database's, in key order. */
    private java.util.TreeMap<byte[], byte[]> rows(Column c, byte[] prefix) {
        settleOverlay(false);
        java.util.TreeMap<byte[], byte[]> rows = new java.util.TreeMap<>(Arrays::compareUnsigned);
        try (RocksIterator it = db().newIterator(c.handle, readOptions)) {
            for (it.seek(prefix); it.isValid() && startsWith(it.key(), prefix); it.next()) {
                rows.put(it.key(), it.value());
            }
            it.status();
        } catch (RocksDBException e) {
            throw new IllegalStateException("RocksDB read of state '" + c.name + "' failed: " + e.getMessage(), e);
        }
        if (overlay != null) {
            byte[] end = prefixEnd(prefix);
            java.util.SortedMap<byte[], byte[]> mine = end == null ? overlayOf(c).tailMap(prefix)
                    : overlayOf(c).subMap(prefix, end);
            for (Map.Entry<byte[], byte[]> e : mine.entrySet()) {
                if (e.getValue() == TOMBSTONE) {
                    rows.remove(e.getKey());
                } else {
                    rows.put(e.getKey(), e.getValue());
                }
            }
        }
        return rows;
    }

    /** The smallest row key greater than every row key starting with {@code prefix}. */
    private static byte[] prefixEnd(byte[] prefix) {
        byte[] end = prefix.clone();
        for (int i = end.length - 1; i >= 0; i--) {
            if (end[i] != (byte) 0xff) {
                end[i]++;
                return Arrays.copyOf(end, i + 1);
            }
        }
        return null;
    }

    private void deletePrefix(Column c, byte[] prefix) {
        settleOverlay(false);
        if (overlay != null) {
            for (byte[] row : rows(c, prefix).keySet()) {
                overlayOf(c).put(row, TOMBSTONE);
            }
            return;
        }
        try {
            byte[] end = prefixEnd(prefix);
            if (end != null) {
                db().deleteRange(c.handle, writeOptions, prefix, end);
            }
        } catch (RocksDBException e) {
            throw new IllegalStateException("RocksDB delete of state '" + c.name + "' failed: " + e.getMessage(), e);
        }
    }

    @Override
    public <T> ValueState<T> getState(ValueStateDescriptor<T> d) {
        Column c = register(d);
        TypeSerializer<T> s = d.getSerializer();
        return new ValueState<>() {
            @Override
            public T value() {
                byte[] v = get(c, key());
                return v == null ? null : Bytes.fromBytes(s, v);
            }

            @Override
            public void update(T value) {
                if (value == null) {
                    delete(c, key());
                } else {
                    put(c, key(), Bytes.toBytes(s, value));
                }
            }

            @Override
            public void clear() {
                delete(c, key());
            }
        };
    }

    @Override
    public <T> ListState<T> getListState(ListStateDescriptor<T> d) {
        Column c = register(d);
        TypeSerializer<List<T>> s = Serializers.listOf(d.getElementSerializer());
        return new ListState<>() {
            private List<T> read() {
                byte[] v = RocksDBKeyedStateBackend.this.get(c, key());
                return v == null ? new ArrayList<>() : Bytes.fromBytes(s, v);
            }

            @Override
            public Iterable<T> get() {
                return read();
            }

            @Override
            public void add(T value) {
                List<T> list = read();
                list.add(value);
                put(c, key(), Bytes.toBytes(s, list));
            }

            @Override
            public void addAll(List<T> values) {
                if (!values.isEmpty()) {
                    List<T> list = read();
                    list.addAll(values);
                    put(c, key(), Bytes.toBytes(s, list));
                }
            }

            @Override
            public void update(List<T> values) {
                if (values == null || values.isEmpty()) {
                    delete(c, key());
                } else {
                    put(c, key(), Bytes.toBytes(s, new ArrayList<>(values)));
                }
            }

            @Override
            public void clear() {
                delete(c, key());
            }
        };
    }

    @Override
    public <UK, UV> MapState<UK, UV> getMapState(MapStateDescriptor<UK, UV> d) {
        Column c = register(d);
        TypeSerializer<UK> ks = d.getKeySerializer();
        TypeSerializer<UV> vs = d.getValueSerializer();
        splitRestoredMaps(c, ks, vs);
        return new MapState<>() {
            private byte[] row(UK userKey) {
                return concat(key(), Bytes.toBytes(ks, userKey));
            }

            @Override
            public UV get(UK k) {
                byte[] v = RocksDBKeyedStateBackend.this.get(c, row(k));
                return v == null ? null : Bytes.fromBytes(vs, v);
            }

            @Override
            public void put(UK k, UV v) {
                RocksDBKeyedStateBackend.this.put(c, row(k), Bytes.toBytes(vs, v));
            }

            @Override
            public void putAll(Map<UK, UV> map) {
                map.forEach(this::put);
            }

            @Override
            public void remove(UK k) {
                delete(c, row(k));
            }

            @Override
            public boolean contains(UK k) {
                return RocksDBKeyedStateBackend.this.get(c, row(k)) != null;
            }

            @Override
            public Iterable<Map.Entry<UK, UV>> entries() {
                byte[] prefix = key();
                List<Map.Entry<UK, UV>> entries = new ArrayList<>();
                for (Map.Entry<byte[], byte[]> row : rows(c, prefix).entrySet()) {
                    entries.add(new AbstractMap.SimpleImmutableEntry<>(
                            Bytes.fromBytes(ks, Arrays.copyOfRange(row.getKey(), prefix.length, row.getKey().length)),
                            Bytes.fromBytes(vs, row.getValue())));
                }
                return entries;
            }

            @Override
            public boolean isEmpty() {
                return rows(c, key()).isEmpty();
            }

            @Override
            public void clear() {
                deletePrefix(c, key());
            }
        };
    }

    private static boolean startsWith(byte[] row, byte[] prefix) {
        if (row.length < prefix.length) {
            return false;
        }
        for (int i = 0; i < prefix.length; i++) {
            if (row[i] != prefix[i]) {
                return false;
            }
        }
        return true;
    }

    @Override
    public <T> ReducingState<T> getReducingState(ReducingStateDescriptor<T> d) {
        Column c = register(d);
        TypeSerializer<T> s = d.getSerializer();
        ReduceFunction<T> reduce = d.getReduceFunction();
        return new ReducingState<>() {
            @Override
            public T get() {
                byte[] v = RocksDBKeyedStateBackend.this.get(c, key());
                return v == null ? null : Bytes.fromBytes(s, v);
            }

            @Override
            public void add(T value) throws Exception {
                T current = get();
                put(c, key(), Bytes.toBytes(s, current == null ? value : reduce.reduce(current, value)));
            }

            @Override
            public void clear() {
                delete(c, key());
            }
        };
    }

    // ------------------------------------------------------------------ snapshots

    @Override
    public KeyedStateSnapshot snapshot(long checkpointId) throws IOException {
        writeRestored();
        return incremental ? nativeSnapshot(checkpointId) : fullSnapshot();
    }

    /**
     * The synchronous part only diverts the task's writes into the overlay: the database then holds the
     * barrier's state. The asynchronous part takes RocksDB's checkpoint (flushing the memtables and
     * hard-linking the files) into a local directory, releases the overlay, and uploads only the SST
     * files no earlier checkpoint uploaded.
     */
    private KeyedStateSnapshot nativeSnapshot(long checkpointId) throws IOException {
        RocksDB database = db();
        settleOverlay(true); // a previous checkpoint still taking its files: rare, it takes a flush
        overlay = new java.util.HashMap<>();
        java.util.concurrent.CompletableFuture<Void> taken = new java.util.concurrent.CompletableFuture<>();
        filesTaken = taken;
        Path local = directory.resolveSibling(directory.getFileName() + "-chk-" + checkpointId);
        List<NativeSnapshot.State> states = new ArrayList<>();
        for (Column c : columns.values()) {
            states.add(new NativeSnapshot.State(c.name, c.kind, c.holdsWholeMaps));
        }
        synchronized (this) {
            openSnapshots++;
        }
        return new KeyedStateSnapshot() {
            private final List<io.onceflow.runtime.storage.StateHandle.InFile> shared = new ArrayList<>();
            private long uploadedBytes;
            private boolean released;

            @Override
            public int format() {
                return SubtaskStateFormat.KEYED_ROCKSDB_NATIVE;
            }

            @Override
            public void write(DataOutputStream out, SharedFiles sharedFiles) throws IOException {
                try (org.rocksdb.Checkpoint checkpoint = org.rocksdb.Checkpoint.create(database)) {
                    deleteRecursively(local);
                    checkpoint.createCheckpoint(local.toString());
                } catch (RocksDBException e) {
                    throw new IOException("Cannot take a RocksDB checkpoint of operator '" + operatorUid + "' in "
                            + local + ": " + e.getMessage(), e);
                } finally {
                    taken.complete(null); // the task may write to the database again
                }
                List<NativeSnapshot.FileRef> files = new ArrayList<>();
                List<Path> all;
                try (Stream<Path> list = Files.list(local)) {
                    all = list.sorted().toList();
                }
                for (Path file : all) {
                    String name = file.getFileName().toString();
                    if (name.endsWith(".sst")) {
                        io.onceflow.runtime.storage.StateHandle.InFile handle = uploaded.get(name);
                        if (handle == null) {
                            handle = sharedFiles.upload(dbId + "-" + name, file);
                            uploaded.put(name, handle);
                            uploadedBytes += handle.size();
                        }
                        shared.add(handle);
                        files.add(new NativeSnapshot.FileRef(name, handle, null));
                    } else {
                        files.add(new NativeSnapshot.FileRef(name, null, Files.readAllBytes(file)));
                    }
                }
                new NativeSnapshot(dbId, maxParallelism, keyGroupRange, states, files).write(out);
            }

            @Override
            public List<io.onceflow.runtime.storage.StateHandle.InFile> sharedFiles() {
                return shared;
            }

            @Override
            public long uploadedSharedBytes() {
                return uploadedBytes;
            }

            @Override
            public void release() {
                taken.complete(null); // abandoned before it was written: let the task write again
                synchronized (RocksDBKeyedStateBackend.this) {
                    if (released) {
                        return;
                    }
                    released = true;
                    deleteRecursively(local);
                    if (--openSnapshots == 0 && closeRequested) {
                        closeNow();
                    }
                }
            }
        };
    }

    private KeyedStateSnapshot fullSnapshot() {
        RocksDB db = db();
        synchronized (this) {
            openSnapshots++;
        }
        Snapshot snapshot = db.getSnapshot();
        List<Column> frozen = new ArrayList<>(columns.values());
        // a map state registered after this moment splits its restored rows; the snapshot still sees whole maps
        boolean[] wholeMaps = new boolean[frozen.size()];
        for (int i = 0; i < frozen.size(); i++) {
            wholeMaps[i] = frozen.get(i).holdsWholeMaps;
        }
        boolean[] released = {false};
        return new KeyedStateSnapshot() {
            @Override
            public void write(DataOutputStream out, SharedFiles shared) throws IOException {
                List<SubtaskStateFormat.StateInfo> states = new ArrayList<>();
                frozen.forEach(c -> states.add(new SubtaskStateFormat.StateInfo(c.name, c.kind)));
                SubtaskStateFormat.writeKeyedHeader(out, maxParallelism, states);
                try (ReadOptions options = new ReadOptions().setSnapshot(snapshot)) {
                    for (int i = 0; i < frozen.size(); i++) {
                        Column c = frozen.get(i);
                        if (c.kind == StateDescriptor.Kind.MAP && !wholeMaps[i]) {
                            writeMaps(out, i, c, options);
                        } else {
                            try (RocksIterator it = db.newIterator(c.handle, options)) {
                                for (it.seekToFirst(); it.isValid(); it.next()) {
                                    byte[] row = it.key();
                                    byte[] value = it.value();
                                    SubtaskStateFormat.writeKeyedEntry(out, i, keyGroupOf(row), row, 6, row.length - 6,
                                            value, 0, value.length);
                                }
                                ended(it, c);
                            }
                        }
                    }
                }
                SubtaskStateFormat.writeKeyedEnd(out);
            }

            @Override
            public void release() {
                synchronized (RocksDBKeyedStateBackend.this) {
                    if (released[0]) {
                        return;
                    }
                    released[0] = true;
                    db.releaseSnapshot(snapshot);
                    if (--openSnapshots == 0 && closeRequested) {
                        closeNow();
                    }
                }
            }
        };
    }

    /** Gathers one key's map rows (adjacent in key order) back into the serialized map the canonical format holds. */
    private void writeMaps(DataOutputStream out, int index, Column c, ReadOptions options) throws IOException {
        RocksDB db = db();
        ByteArrayOutputStream map = new ByteArrayOutputStream();
        DataOutputStream mapOut = new DataOutputStream(map);
        byte[] primary = null;
        int count = 0;
        try (RocksIterator it = db.newIterator(c.handle, options)) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                byte[] row = it.key();
                int length = primaryLength(row);
                if (primary == null || !startsWith(row, primary) || length != primary.length) {
                    if (primary != null) {
                        writeMap(out, index, primary, count, map);
                    }
                    primary = Arrays.copyOf(row, length);
                    count = 0;
                    map.reset();
                }
                mapOut.write(row, length, row.length - length);
                mapOut.write(it.value());
                count++;
            }
            ended(it, c);
        }
        if (primary != null) {
            writeMap(out, index, primary, count, map);
        }
    }

    /** After a checkpoint's loop over a state: an iterator stopped by an error fails the checkpoint. */
    private void ended(RocksIterator it, Column c) throws IOException {
        try {
            it.status();
        } catch (RocksDBException e) {
            throw new IOException("Cannot read state '" + c.name + "' of operator '" + operatorUid
                    + "' from RocksDB for a checkpoint: " + e.getMessage(), e);
        }
    }

    private static void writeMap(DataOutputStream out, int index, byte[] primary, int count, ByteArrayOutputStream map)
            throws IOException {
        ByteArrayOutputStream value = new ByteArrayOutputStream(4 + map.size());
        new DataOutputStream(value).writeInt(count);
        map.writeTo(value);
        byte[] bytes = value.toByteArray();
        SubtaskStateFormat.writeKeyedEntry(out, index, keyGroupOf(primary), primary, 6, primary.length - 6, bytes, 0,
                bytes.length);
    }

    /** Closes the database once no snapshot of it is still being written. */
    @Override
    public synchronized void close() {
        closeRequested = true;
        if (openSnapshots == 0) {
            closeNow();
        }
    }

    private void closeNow() {
        if (closed) {
            return;
        }
        closed = true;
        if (restoreBatch != null) {
            restoreBatch.close();
        }
        for (Column c : columns.values()) {
            if (c.run != null) {
                try {
                    c.run.close();
                } catch (IOException e) {
                    LOG.debug("Could not delete a restore file of operator '{}': {}", operatorUid, e.toString());
                }
            }
        }
        for (ColumnFamilyHandle h : handles) {
            h.close();
        }
        if (db != null) {
            db.close();
        }
        writeOptions.close();
        readOptions.close();
        cfOptions.close();
        dbOptions.close();
        try {
            workingDirectory.close();
        } catch (IOException e) {
            LOG.debug("Could not delete {}: {}", directory, e.toString());
        }
    }

    private static void deleteRecursively(Path dir) {
        try {
            io.onceflow.runtime.storage.LocalFiles.deleteRecursively(dir);
        } catch (IOException e) {
            LOG.debug("Could not delete {}: {}", dir, e.toString());
        }
    }
}
