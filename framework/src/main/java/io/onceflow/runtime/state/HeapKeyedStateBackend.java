package io.onceflow.runtime.state;

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
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Keyed state of one operator subtask on the heap: one {@link CopyOnWriteStateMap} per named state,
 * from key to value. A snapshot only freezes the maps (O(1) each) on the task thread; another thread
 * then serializes the frozen generation while the task goes on writing a new one.
 *
 * <p>List and map values are changed in place by their state objects, so each is copied once per
 * generation before it is changed ({@link Owned}). A value object of a {@code ValueState} must not be
 * changed after {@code update()}: update it with a new object (as with Flink's heap backend).
 *
 * <p>Restored entries stay serialized until their state is registered, and are carried into later
 * snapshots as they are if it never is.
 *
 * <h2>Incremental checkpoints</h2>
 * With shared state storage and incremental checkpoints on, a snapshot is written as a chain of files
 * ({@link HeapStateChain}): a full base, then per checkpoint a delta of the entries that changed and
 * the keys removed since the last snapshot this backend wrote. The delta comes from the keys each table
 * logged as written or removed between the two snapshots ({@link CopyOnWriteStateMap#diff}), so it costs
 * what changed, not the size of the state. A new base is written when the deltas together hold as many bytes
 * as it, after {@value #MAX_DELTAS} deltas, when the set of states changed, when a value object was changed
 * in place and put again (a diff cannot see that), and when a table no longer has the logs since the last
 * delta (a full snapshot, such as a savepoint's, was written in between). After a restore the chain goes on with
 * deltas even where a new base is due until the first checkpoint that holds a change (it is the one a restarted
 * job's first output waits for; checkpoints before it, taken while the sources had read nothing yet, change
 * nothing); the next one writes the base.
 *
 * <h2>Bases written in the background</h2>
 * With a base writer (the runtime's backends have one), a base that is due because of the deltas' size or number
 * is not written by the checkpoint: the checkpoint writes its delta as usual and hands its frozen state to the base
 * writer, which writes it in full to the shared state beside the chain (as Flink's changelog backend materializes
 * its state). A checkpoint written after that base is in starts its chain with it, followed by the deltas written
 * since its snapshot; until then the chain goes on with deltas. A checkpoint so never waits for a whole copy of
 * the state, only for what changed in its interval: a base, several times a delta's size, is what made every few
 * checkpoints slow. A base that could not be written is logged and tried again with the next checkpoint; one no
 * longer of use (the chain was started anew in between, the backend closed) is left unreferenced. A base a
 * checkpoint must have at once (the first, a change of the states, a value changed in place, a full snapshot in
 * between) is written by the checkpoint as before; so is a due one when the chain has grown to twice
 * {@value #MAX_DELTAS} deltas while the base writer is still busy.
 */
public final class HeapKeyedStateBackend implements KeyedStateBackend, KeyedEntrySink {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(HeapKeyedStateBackend.class);

    private final String operatorUid;
    private final TypeSerializer<Object> keySerializer;
    private final int maxParallelism;
    private final KeyGroupRange keyGroupRange;
    private final LinkedHashMap<String, StateTable<?>> tables = new LinkedHashMap<>();
    private final Map<String, RestoredKeyedState> restored = new LinkedHashMap<>();
    private final List<RestoredKeyedState> reading = new ArrayList<>();
    private final boolean incremental;
    // writes a due base off the checkpoint's path; null: the checkpoint writes it
    private final java.util.concurrent.Executor baseWriter;
    // a base the base writer is writing, or has written and no chain uses yet
    private final java.util.concurrent.atomic.AtomicBoolean writingBase = new java.util.concurrent.atomic.AtomicBoolean();
    private volatile WrittenBase writtenBase;
    private volatile boolean closed;
    // names this backend's files in the shared state
    private final String chainId = "heap-" + java.util.UUID.randomUUID();
    // the last snapshot written, which the next one is a delta of (set by the snapshot threads, in order)
    private volatile Written lastWritten;
    // restored from one heap chain written for exactly this backend's key groups: its files and states, and
    // each table as restored, so that the first checkpoint after the restore is a delta of that chain
    private int snapshotsRead;
    private boolean readOwnKeyGroups;
    private List<io.onceflow.runtime.storage.StateHandle.InFile> restoredChain;
    private List<String> restoredChainStates;
    private Map<String, CopyOnWriteStateMap.Snapshot<Object, ?>> restoredTables = new HashMap<>();
    // the order of the restored states: snapshots number tables in it, whatever order they are registered in
    private final List<String> restoredOrder = new ArrayList<>();
    // the key as the user gave it, and as state tables hold it (a byte[] by content)
    private Object currentKey;
    private final StableKeys.RecordKeyCheck keyCheck;
    private Object currentStoredKey;

    public HeapKeyedStateBackend(String operatorUid, TypeSerializer<Object> keySerializer, int maxParallelism,
                                 KeyGroupRange keyGroupRange) {
        this(operatorUid, keySerializer, maxParallelism, keyGroupRange, false);
    }

    /** @param incremental whether checkpoints with shared state storage are written as chains of deltas */
    public HeapKeyedStateBackend(String operatorUid, TypeSerializer<Object> keySerializer, int maxParallelism,
                                 KeyGroupRange keyGroupRange, boolean incremental) {
        this(operatorUid, keySerializer, maxParallelism, keyGroupRange, incremental, null);
    }

    /**
     * @param incremental whether checkpoints with shared state storage are written as chains of deltas
     * @param baseWriter  where a due base is written, off the checkpoints' path ({@link #BACKGROUND}); null: the
     *                    checkpoint it is due at writes it
     */
    public HeapKeyedStateBackend(String operatorUid, TypeSerializer<Object> keySerializer, int maxParallelism,
                                 KeyGroupRange keyGroupRange, boolean incremental,
                                 java.util.concurrent.Executor baseWriter) {
        this.incremental = incremental;
        this.baseWriter = baseWriter;
        this.operatorUid = operatorUid;
        this.keyCheck = new StableKeys.RecordKeyCheck(operatorUid);
        this.keySerializer = keySerializer != null ? keySerializer : Serializers.dynamic();
        this.maxParallelism = maxParallelism;
        this.keyGroupRange = keyGroupRange;
    }

    // ------------------------------------------------------------------ restore

    @Override
    public void state(int index, String name, StateDescriptor.Kind kind) throws IOException {
        if (index == 0) {
            reading.clear();
        }
        if (!restoredOrder.contains(name)) {
            restoredOrder.add(name);
        }
        RestoredKeyedState r = restored.computeIfAbsent(name, n -> new RestoredKeyedState(n, kind));
        if (r.kind() != kind) {
            throw new IOException("State '" + name + "' of operator '" + operatorUid + "' is " + kind + " state in one "
                    + "snapshot and " + r.kind() + " state in another");
        }
        reading.add(r);
    }

    @Override
    public void snapshotWrittenFor(KeyGroupRange written) {
        snapshotsRead++;
        readOwnKeyGroups = written.equals(keyGroupRange);
    }

    @Override
    public void heapChain(List<io.onceflow.runtime.storage.StateHandle.InFile> files) {
        restoredChain = files;
        restoredChainStates = reading.stream().map(r -> r.name() + " " + r.kind()).toList();
    }

    @Override
    public void entry(int index, int keyGroup, byte[] key, byte[] value) {
        reading.get(index).entries().add(keyGroup, key, key.length, value, value.length);
    }

    @Override
    public void entry(int index, int keyGroup, byte[] keyBuffer, int keyLength, java.io.DataInput in, int valueLength)
            throws IOException {
        reading.get(index).entries().add(keyGroup, keyBuffer, keyLength, in, valueLength);
    }

    // ------------------------------------------------------------------ keys

    @Override
    public void setCurrentKey(Object key) {
        if (key != currentKey || key == null) {
            keyCheck.check(key);
            this.currentStoredKey = StableKeys.normalize(key);
        }
        this.currentKey = key;
    }

    @Override
    public Object getCurrentKey() {
        return currentKey;
    }

    @Override
    public KeyGroupRange getKeyGroupRange() {
        return keyGroupRange;
    }

    private Object key() {
        if (currentStoredKey == null) {
            throw new IllegalStateException("Keyed state of operator '" + operatorUid
                    + "' was used outside of processing a record: there is no current key");
        }
        return currentStoredKey;
    }

    // ------------------------------------------------------------------ state kinds

    /** A list or map owned by one generation of its table: changed in place only by that generation. */
    private interface Owned {
        Object generation();
    }

    private static final class OwnedList<T> extends ArrayList<T> implements Owned {
        private final transient Object generation;

        OwnedList(Object generation, List<T> from) {
            super(from == null ? List.of() : from);
            this.generation = generation;
        }

        @Override
        public Object generation() {
            return generation;
        }
    }

    private static final class OwnedMap<K, V> extends HashMap<K, V> implements Owned {
        private final transient Object generation;

        OwnedMap(Object generation, Map<K, V> from) {
            super(from == null ? Map.of() : from);
            this.generation = generation;
        }

        @Override
        public Object generation() {
            return generation;
        }
    }

    @Override
    public <T> ValueState<T> getState(ValueStateDescriptor<T> d) {
        StateTable<T> table = table(d, d.getSerializer());
        return new ValueState<>() {
            @Override
            public T value() {
                return table.map.get(key());
            }

            @Override
            public void update(T value) {
                if (value == null) {
                    table.map.remove(key());
                } else if (table.map.put(key(), value) && !immutable(value)) {
                    table.inPlaceUpdates++;
                }
            }

            @Override
            public void clear() {
                table.map.remove(key());
            }
        };
    }

    @Override
    public <T> ListState<T> getListState(ListStateDescriptor<T> d) {
        StateTable<List<T>> table = table(d, Serializers.listOf(d.getElementSerializer()));
        return new ListState<>() {
            /** The current key's list, copied first if an older generation (a snapshot) still holds it. */
            private List<T> writable() {
                Object k = key();
                List<T> list = table.map.get(k);
                if (!(list instanceof Owned o) || o.generation() != table.map.edit()) {
                    list = new OwnedList<>(table.map.edit(), list);
                    table.map.put(k, list);
                }
                return list;
            }

            @Override
            public Iterable<T> get() {
                List<T> list = table.map.get(key());
                return list == null ? Collections.emptyList() : Collections.unmodifiableList(list);
            }

            @Override
            public void add(T value) {
                writable().add(value);
            }

            @Override
            public void addAll(List<T> values) {
                if (!values.isEmpty()) {
                    writable().addAll(values);
                }
            }

            @Override
            public void update(List<T> values) {
                if (values == null || values.isEmpty()) {
                    table.map.remove(key());
                } else {
                    table.map.put(key(), new OwnedList<>(table.map.edit(), values));
                }
            }

            @Override
            public void clear() {
                table.map.remove(key());
            }
        };
    }

    @Override
    public <UK, UV> MapState<UK, UV> getMapState(MapStateDescriptor<UK, UV> d) {
        StateTable<Map<UK, UV>> table = table(d, mapSerializer(d.getKeySerializer(), d.getValueSerializer()));
        return new MapState<>() {
            private Map<UK, UV> current() {
                return table.map.get(key());
            }

            private Map<UK, UV> writable() {
                Object k = key();
                Map<UK, UV> m = table.map.get(k);
                if (!(m instanceof Owned o) || o.generation() != table.map.edit()) {
                    m = new OwnedMap<>(table.map.edit(), m);
                    table.map.put(k, m);
                }
                return m;
            }

            @Override
            public UV get(UK k) {
                Map<UK, UV> m = current();
                return m == null ? null : m.get(k);
            }

            @Override
            public void put(UK k, UV v) {
                writable().put(k, v);
            }

            @Override
            public void putAll(Map<UK, UV> map) {
                if (!map.isEmpty()) {
                    writable().putAll(map);
                }
            }

            @Override
            public void remove(UK k) {
                Map<UK, UV> m = current();
                if (m != null && m.containsKey(k)) {
                    Map<UK, UV> w = writable();
                    w.remove(k);
                    if (w.isEmpty()) {
                        table.map.remove(key());
                    }
                }
            }

            @Override
            public boolean contains(UK k) {
                Map<UK, UV> m = current();
                return m != null && m.containsKey(k);
            }

            @Override
            public Iterable<Map.Entry<UK, UV>> entries() {
                Map<UK, UV> m = current();
                return m == null ? Collections.emptyList() : Collections.unmodifiableMap(m).entrySet();
            }

            @Override
            public boolean isEmpty() {
                Map<UK, UV> m = current();
                return m == null || m.isEmpty();
            }

            @Override
            public void clear() {
                table.map.remove(key());
            }
        };
    }

    @Override
    public <T> ReducingState<T> getReducingState(ReducingStateDescriptor<T> d) {
        StateTable<T> table = table(d, d.getSerializer());
        ReduceFunction<T> reduce = d.getReduceFunction();
        return new ReducingState<>() {
            @Override
            public T get() {
                return table.map.get(key());
            }

            @Override
            public void add(T value) throws Exception {
                Object k = key();
                T current = table.map.get(k);
                T reduced = current == null ? value : reduce.reduce(current, value);
                if (table.map.put(k, reduced) && !immutable(reduced)) {
                    table.inPlaceUpdates++; // the reduce function changed and returned its first argument
                }
            }

            @Override
            public void clear() {
                table.map.remove(key());
            }
        };
    }

    /**
     * Whether a value put again as the same object cannot have been changed in place (a cached boxed
     * number, a string): only other objects force the next checkpoint to be a full one.
     */
    private static boolean immutable(Object value) {
        return value instanceof String || value instanceof Long || value instanceof Integer || value instanceof Boolean
                || value instanceof Short || value instanceof Byte || value instanceof Character || value instanceof Double
                || value instanceof Float || value instanceof Enum<?> || value instanceof java.math.BigInteger
                || value instanceof java.math.BigDecimal;
    }

    @SuppressWarnings("unchecked")
    private <V> StateTable<V> table(StateDescriptor<?, ?> d, TypeSerializer<V> valueSerializer) {
        StateTable<?> existing = tables.get(d.getName());
        if (existing != null) {
            if (existing.kind != d.getKind()) {
                throw new IllegalStateException("State '" + d.getName() + "' of operator '" + operatorUid
                        + "' is registered as " + existing.kind + " state and now requested as " + d.getKind()
                        + " state: use a different name for each state");
            }
            return (StateTable<V>) existing;
        }
        StateTable<V> table = new StateTable<>(d.getKind(), valueSerializer, incremental);
        RestoredKeyedState old = restored.remove(d.getName());
        if (old != null) {
            if (old.kind() != d.getKind()) {
                restored.put(d.getName(), old);
                throw new IllegalStateException("State '" + d.getName() + "' of operator '" + operatorUid
                        + "' was checkpointed as " + old.kind() + " state but is now requested as " + d.getKind()
                        + " state: keep the kind of a state, or give the new state another name");
            }
            table.map.presize(old.entries().size());
            BytesReader reader = new BytesReader();
            try {
                old.entries().forEach((keyGroup, array, keyAt, keyLength, valueAt, valueLength) -> table.map.put(
                        StableKeys.normalize(reader.read(keySerializer, array, keyAt, keyLength)),
                        reader.read(valueSerializer, array, valueAt, valueLength)));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
        if (restoredTables != null && restoredChain != null) {
            CopyOnWriteStateMap.Snapshot<Object, ?> asRestored = table.map.snapshot(); // the table as the chain holds it
            asRestored.release(); // only ever the older side of a delta: its entries are not read
            restoredTables.put(d.getName(), asRestored);
        }
        tables.put(d.getName(), table);
        return table;
    }

    private static <UK, UV> TypeSerializer<Map<UK, UV>> mapSerializer(TypeSerializer<UK> ks, TypeSerializer<UV> vs) {
        return new TypeSerializer<>() {
            @Override
            public void serialize(Map<UK, UV> value, java.io.DataOutput out) throws IOException {
                out.writeInt(value.size());
                for (Map.Entry<UK, UV> e : value.entrySet()) {
                    ks.serialize(e.getKey(), out);
                    vs.serialize(e.getValue(), out);
                }
            }

            @Override
            public Map<UK, UV> deserialize(java.io.DataInput in) throws IOException {
                int n = in.readInt();
                Map<UK, UV> map = new HashMap<>(Math.max(4, n * 2));
                for (int i = 0; i < n; i++) {
                    map.put(ks.deserialize(in), vs.deserialize(in));
                }
                return map;
            }
        };
    }

    // ------------------------------------------------------------------ snapshots

    /** Freezes every table (O(1) each); the restored-but-unregistered entries are immutable already. */
    @Override
    public KeyedStateSnapshot snapshot(long checkpointId) {
        List<Map.Entry<String, StateTable<?>>> ordered = new ArrayList<>(tables.entrySet());
        if (!restoredOrder.isEmpty()) {
            ordered.sort(java.util.Comparator.comparingInt(e -> {
                int i = restoredOrder.indexOf(e.getKey());
                return i < 0 ? Integer.MAX_VALUE : i;
            }));
        }
        List<FrozenTable<?>> frozen = new ArrayList<>();
        for (Map.Entry<String, StateTable<?>> e : ordered) {
            frozen.add(freeze(e.getKey(), e.getValue()));
        }
        List<RestoredKeyedState> leftovers = new ArrayList<>();
        for (RestoredKeyedState r : restored.values()) {
            r.entries().seal(); // the snapshot shares them
            leftovers.add(r);
        }
        HeapSnapshot snapshot = new HeapSnapshot(checkpointId, frozen, leftovers);
        if (restoredTables != null) {
            // the first snapshot after a restore: a delta of the restored chain, if this is exactly its state
            snapshot.restoredBase = restoredBase(snapshot);
            restoredTables = null;
            restoredChain = null;
        }
        return snapshot;
    }

    /**
     * The restored chain as the base of a delta, when the snapshot holds what it held: restored from that one
     * chain alone, written for this backend's key groups, with the same states in the same order (the chain's
     * files number them), each table registered before any checkpoint (so it was frozen as restored).
     * Otherwise null: the snapshot is written in full.
     */
    private Written restoredBase(HeapSnapshot snapshot) {
        if (!incremental || restoredChain == null || restoredChain.isEmpty() || snapshotsRead != 1 || !readOwnKeyGroups
                || !snapshot.stateNames().equals(restoredChainStates)) {
            return null;
        }
        List<String> layout = new ArrayList<>();
        Map<String, CopyOnWriteStateMap.Snapshot<Object, ?>> maps = new HashMap<>();
        for (FrozenTable<?> f : snapshot.frozen) {
            CopyOnWriteStateMap.Snapshot<Object, ?> asRestored = restoredTables.get(f.name);
            if (asRestored == null) {
                return null;
            }
            maps.put(f.name, asRestored);
            layout.add("table " + f.name + " " + f.kind + " 0");
        }
        for (RestoredKeyedState r : snapshot.leftovers) {
            layout.add("restored " + r.name() + " " + r.kind());
        }
        long deltas = restoredChain.stream().skip(1).mapToLong(io.onceflow.runtime.storage.StateHandle.InFile::size).sum();
        List<Long> ids = Collections.nCopies(restoredChain.size(), RESTORED); // older than any snapshot of this backend
        return new Written(layout, maps, restoredChain, ids, restoredChain.get(0).size(), deltas, true);
    }

    /** At most this many deltas follow a base, so a restore reads a bounded number of files. */
    static final int MAX_DELTAS = 50;

    /**
     * A new base once the deltas since the last one hold as many bytes as it: a restore reads at most twice the base
     * (a little more while a base is written in the background).
     */
    static final int MAX_DELTA_BYTES_PER_BASE_BYTE = 1;

    /** The shared base writer of the runtime's heap backends: daemon threads, made as needed, gone when idle. */
    public static final java.util.concurrent.Executor BACKGROUND = java.util.concurrent.Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "onceflow-heap-base-writer");
        t.setDaemon(true);
        return t;
    });

    /** The checkpoint id of a restored chain's files in {@link Written#chainIds}. */
    private static final long RESTORED = -1;

    /**
     * What the last written snapshot was, for the next one's delta; {@code chainIds}: the checkpoint whose snapshot
     * each file of the chain ends with; {@code unchangedSinceRestore}: the restored chain, or deltas of it that held
     * no change, so the next delta may still put off a base that is due.
     */
    private record Written(List<String> layout, Map<String, CopyOnWriteStateMap.Snapshot<Object, ?>> maps,
                           List<io.onceflow.runtime.storage.StateHandle.InFile> chain, List<Long> chainIds,
                           long baseBytes, long deltaBytes, boolean unchangedSinceRestore) {

        /**
         * This chain begun with {@code base}, a full copy of the snapshot of a checkpoint whose delta is in it,
         * instead of everything up to that delta; null if no file of the chain ends with that snapshot.
         */
        Written startingWith(WrittenBase base) {
            int at = chainIds.indexOf(base.checkpointId());
            if (at < 0) {
                return null;
            }
            List<io.onceflow.runtime.storage.StateHandle.InFile> files = new ArrayList<>();
            List<Long> ids = new ArrayList<>();
            files.add(base.file());
            ids.add(base.checkpointId());
            long deltas = 0;
            for (int i = at + 1; i < chain.size(); i++) {
                files.add(chain.get(i));
                ids.add(chainIds.get(i));
                deltas += chain.get(i).size();
            }
            return new Written(layout, maps, List.copyOf(files), List.copyOf(ids), base.file().size(), deltas, false);
        }
    }

    /** A base the base writer wrote: the whole state at checkpoint {@code checkpointId}. */
    private record WrittenBase(long checkpointId, io.onceflow.runtime.storage.StateHandle.InFile file) {
    }

    private final class HeapSnapshot implements KeyedStateSnapshot {
        private final long checkpointId;
        private final List<FrozenTable<?>> frozen;
        private final List<RestoredKeyedState> leftovers;
        private final List<SubtaskStateFormat.StateInfo> states = new ArrayList<>();
        // the states and how often each had a value changed in place: a delta needs both unchanged
        private final List<String> layout = new ArrayList<>();
        private List<io.onceflow.runtime.storage.StateHandle.InFile> chain = List.of();
        private long uploaded;
        // the first snapshot after a restore: the restored chain, which it may be a delta of
        private Written restoredBase;
        // who still reads the frozen tables: the checkpoint until release(), and the base writer while it writes them
        private final java.util.concurrent.atomic.AtomicInteger readers = new java.util.concurrent.atomic.AtomicInteger(1);

        HeapSnapshot(long checkpointId, List<FrozenTable<?>> frozen, List<RestoredKeyedState> leftovers) {
            this.checkpointId = checkpointId;
            this.frozen = frozen;
            this.leftovers = leftovers;
            for (FrozenTable<?> f : frozen) {
                states.add(new SubtaskStateFormat.StateInfo(f.name, f.kind));
                layout.add("table " + f.name + " " + f.kind + " " + f.inPlaceUpdates);
            }
            for (RestoredKeyedState r : leftovers) {
                states.add(new SubtaskStateFormat.StateInfo(r.name(), r.kind()));
                layout.add("restored " + r.name() + " " + r.kind());
            }
        }

        /** Each state's name and kind, in the order the chain's files number them. */
        List<String> stateNames() {
            return states.stream().map(i -> i.name() + " " + i.kind()).toList();
        }

        @Override
        public int format(SharedFiles shared) {
            return incremental && shared != SharedFiles.NONE ? SubtaskStateFormat.KEYED_HEAP_CHAIN
                    : SubtaskStateFormat.KEYED_CANONICAL;
        }

        @Override
        public void write(DataOutputStream out, SharedFiles shared) throws IOException {
            if (format(shared) == SubtaskStateFormat.KEYED_CANONICAL) {
                SubtaskStateFormat.writeKeyedHeader(out, maxParallelism, states);
                writeEntries(out, new EntryBuffers());
                SubtaskStateFormat.writeKeyedEnd(out);
                forgetChangesBefore(); // a later delta of an older chain finds them gone and writes a base
                return;
            }
            Written base = lastWritten != null ? lastWritten : restoredBase;
            // a base the base writer finished starts the chain in place of the files up to its snapshot's delta
            long backgroundBytes = 0;
            WrittenBase background = writtenBase;
            if (background != null && base != null) {
                Written shorter = base.startingWith(background); // null: the chain was started anew since its snapshot
                if (shorter != null) {
                    base = shorter;
                    backgroundBytes = background.file().size();
                }
            }
            boolean mustBeFull = base == null || !base.layout().equals(layout) || !diffable(base);
            // a restored chain due for a new base gets deltas until the first one with a change: the first
            // checkpoint after a restart that holds input is the one output waits for, in a process whose code is
            // still cold; the next one writes the base
            boolean due = base != null && (base.chain().size() > MAX_DELTAS || (!base.unchangedSinceRestore()
                    && base.deltaBytes() > MAX_DELTA_BYTES_PER_BASE_BYTE * base.baseBytes()));
            boolean inBackground = due && !mustBeFull && baseWriter != null && base.chain().size() <= 2 * MAX_DELTAS;
            boolean full = mustBeFull || (due && !inBackground);
            long[] changes = new long[1];
            Written deltaOf = base;
            io.onceflow.runtime.storage.StateHandle.InFile handle = writeChainFile(shared, full ? "-base" : "-delta",
                    false, file -> {
                        if (full) {
                            writeEntries(file, new EntryBuffers());
                        } else {
                            changes[0] = writeDelta(file, deltaOf);
                        }
                    });
            List<io.onceflow.runtime.storage.StateHandle.InFile> files = new ArrayList<>(full ? List.of() : base.chain());
            files.add(handle);
            List<Long> ids = new ArrayList<>(full ? List.of() : base.chainIds());
            ids.add(checkpointId);
            HeapStateChain.writeChain(out, maxParallelism, states, files);
            chain = List.copyOf(files);
            uploaded = handle.size() + (full ? 0 : backgroundBytes);
            Map<String, CopyOnWriteStateMap.Snapshot<Object, ?>> maps = new HashMap<>();
            frozen.forEach(f -> maps.put(f.name, f.map));
            lastWritten = full ? new Written(layout, maps, chain, List.copyOf(ids), handle.size(), 0, false)
                    : new Written(layout, maps, chain, List.copyOf(ids), base.baseBytes(),
                            base.deltaBytes() + handle.size(), base.unchangedSinceRestore() && changes[0] == 0);
            forgetChangesBefore(); // the next delta is one of this snapshot
            if (background != null) {
                writtenBase = null; // in the chain now, or of no use any more; kept for the next try if this failed
            }
            if (inBackground && !closed && writingBase.compareAndSet(false, true)) {
                writeBaseInBackground(shared);
            }
        }

        /**
         * Has the base writer write this snapshot in full to the shared state, for a later checkpoint's chain to start
         * with ({@link #writtenBase}); the snapshot's frozen tables stay as they are while it does.
         */
        private void writeBaseInBackground(SharedFiles shared) {
            readers.incrementAndGet();
            try {
                baseWriter.execute(() -> {
                    try {
                        io.onceflow.runtime.storage.StateHandle.InFile file = writeChainFile(shared, "-base", true,
                                out -> writeEntries(out, new EntryBuffers()));
                        if (file != null) {
                            writtenBase = new WrittenBase(checkpointId, file);
                        }
                    } catch (Exception e) {
                        if (closed) {
                            LOG.debug("A base of the keyed state of operator '{}' was not finished: the backend closed "
                                    + "({})", operatorUid, e.toString());
                            return;
                        }
                        LOG.warn("Could not write a new base of the keyed state of operator '{}' as of checkpoint {} in "
                                + "the background: {}. Its checkpoints go on as deltas of the last base; the next one "
                                + "tries again", operatorUid, checkpointId, e.toString());
                    } finally {
                        writingBase.set(false); // after writtenBase: a checkpoint that sees it unset finds the base
                        doneReading();
                    }
                });
            } catch (java.util.concurrent.RejectedExecutionException e) {
                writingBase.set(false);
                doneReading();
            }
        }

        /**
         * After the checkpoint's write (or instead of it): the tables may write into the entries this snapshot
         * froze once the base writer, if it writes them, is done too.
         */
        @Override
        public void release() {
            doneReading();
        }

        private void doneReading() {
            if (readers.decrementAndGet() == 0) {
                frozen.forEach(f -> f.map.release());
            }
        }

        /**
         * Writes one file of the chain ({@code body} between the file's header and end) into the shared state as this
         * checkpoint's {@code kind} ("-base" or "-delta"). With {@code stopIfClosed} (the base writer) the write stops
         * once the backend is closed, and returns null then.
         */
        private io.onceflow.runtime.storage.StateHandle.InFile writeChainFile(SharedFiles shared, String kind,
                                                                             boolean stopIfClosed, ChainFileBody body)
                throws IOException {
            io.onceflow.runtime.storage.StateHandle.InFile written = shared.write(chainId + "-" + checkpointId + kind,
                    target -> {
                        java.io.OutputStream sink = !stopIfClosed ? target : new java.io.FilterOutputStream(target) {
                            @Override
                            public void write(byte[] b, int off, int len) throws IOException {
                                if (closed) {
                                    throw new IOException("the backend was closed");
                                }
                                out.write(b, off, len);
                            }
                        };
                        io.onceflow.runtime.storage.UnsynchronizedBufferedOutputStream buffer =
                                new io.onceflow.runtime.storage.UnsynchronizedBufferedOutputStream(sink, 64 * 1024);
                        DataOutputStream file = new DataOutputStream(buffer);
                        HeapStateChain.writeFileHeader(file);
                        body.write(file);
                        HeapStateChain.writeFileEnd(file, buffer);
                        file.flush();
                    });
            // a base finished as the backend closed is of no use: like the files of a checkpoint that failed, it is
            // removed when the job next starts
            return stopIfClosed && closed ? null : written;
        }

        /** Whether each table's changes since {@code base} are still known (the tables log what they change). */
        private boolean diffable(Written base) {
            for (FrozenTable<?> f : frozen) {
                CopyOnWriteStateMap.Snapshot<Object, ?> before = base.maps().get(f.name);
                if (before == null || !CopyOnWriteStateMap.canDiff(before, f.map)) {
                    return false;
                }
            }
            return true;
        }

        /** No delta will be one of an older snapshot than this: the tables drop their older change logs. */
        private void forgetChangesBefore() {
            frozen.forEach(f -> CopyOnWriteStateMap.forgetBefore(f.map));
        }

        /** Every entry of the snapshot, in the canonical entry format. */
        private void writeEntries(DataOutputStream out, EntryBuffers buffers) throws IOException {
            int index = 0;
            for (FrozenTable<?> f : frozen) {
                writeTable(out, index++, f, buffers);
            }
            for (RestoredKeyedState r : leftovers) {
                int stateIndex = index++;
                r.entries().forEach((keyGroup, array, keyAt, keyLength, valueAt, valueLength) ->
                        SubtaskStateFormat.writeKeyedEntry(out, stateIndex, keyGroup, array, keyAt, keyLength, array,
                                valueAt, valueLength));
            }
        }

        /**
         * Writes what changed in each table since {@code base} (restored-but-unregistered entries cannot change): the
         * entries changed and the keys removed; returns how many.
         */
        private long writeDelta(DataOutputStream out, Written base) throws IOException {
            EntryBuffers b = new EntryBuffers();
            long[] changes = new long[1];
            int index = 0;
            for (FrozenTable<?> f : frozen) {
                writeDelta(out, index++, f, base.maps().get(f.name), b, changes);
            }
            return changes[0];
        }

        @SuppressWarnings("unchecked")
        private <V> void writeDelta(DataOutputStream out, int index, FrozenTable<V> table,
                                    CopyOnWriteStateMap.Snapshot<Object, ?> before, EntryBuffers b, long[] changes)
                throws IOException {
            CopyOnWriteStateMap.diff((CopyOnWriteStateMap.Snapshot<Object, V>) before, table.map,
                    new CopyOnWriteStateMap.DiffVisitor<>() {
                        @Override
                        public void changed(Object key, V value) throws IOException {
                            changes[0]++;
                            writeEntry(out, index, table, key, value, b);
                        }

                        @Override
                        public void removed(Object key) throws IOException {
                            changes[0]++;
                            HeapStateChain.writeRemoval(out, b.entry, index, KeyGroups.keyGroupFor(key, maxParallelism),
                                    keySerializer, StableKeys.original(key));
                        }
                    });
        }

        @Override
        public List<io.onceflow.runtime.storage.StateHandle.InFile> sharedFiles() {
            return chain;
        }

        @Override
        public long uploadedSharedBytes() {
            return uploaded;
        }
    }

    private <V> FrozenTable<V> freeze(String name, StateTable<V> table) {
        return new FrozenTable<>(name, table.kind, table.valueSerializer, table.map.snapshot(), table.inPlaceUpdates);
    }

    /** What a file of the chain holds between its header and its end. */
    private interface ChainFileBody {
        void write(DataOutputStream file) throws IOException;
    }

    private record FrozenTable<V>(String name, StateDescriptor.Kind kind, TypeSerializer<V> valueSerializer,
                                  CopyOnWriteStateMap.Snapshot<Object, V> map, long inPlaceUpdates) {
    }

    /** Where one entry is assembled before it is written; reused for every entry. */
    private static final class EntryBuffers {
        final ReusableBytes entry = new ReusableBytes(128);
    }

    private <V> void writeTable(DataOutputStream out, int index, FrozenTable<V> table, EntryBuffers b) throws IOException {
        try {
            table.map.forEach((key, value) -> {
                try {
                    writeEntry(out, index, table, key, value, b);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    private <V> void writeEntry(DataOutputStream out, int index, FrozenTable<V> table, Object key, V value,
                                EntryBuffers b) throws IOException {
        SubtaskStateFormat.writeKeyedEntry(out, b.entry, index, KeyGroups.keyGroupFor(key, maxParallelism),
                keySerializer, StableKeys.original(key), table.valueSerializer, value);
    }

    @Override
    public void close() {
        closed = true; // a base being written in the background stops
        tables.clear();
        restored.clear();
    }

    private static final class StateTable<V> {
        final StateDescriptor.Kind kind;
        final TypeSerializer<V> valueSerializer;
        final CopyOnWriteStateMap<Object, V> map;
        // how often a value object was changed in place and put again: a delta cannot see that
        long inPlaceUpdates;

        StateTable(StateDescriptor.Kind kind, TypeSerializer<V> valueSerializer, boolean incremental) {
            this.kind = kind;
            this.valueSerializer = valueSerializer;
            this.map = new CopyOnWriteStateMap<>(incremental); // deltas need the tables' change logs
        }
    }
}
