package io.onceflow.runtime.state;

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
import io.onceflow.api.functions.ReduceFunction;
import java.io.ByteArrayOutputStream;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Keyed state of one operator subtask on the heap: one hash table per named state, from key to value.
 * A snapshot writes every entry with its key group, so it can be restored at any parallelism.
 *
 * <p>Not thread-safe: used only by the subtask's thread. Snapshots serialize in the calling thread
 * (the synchronous part); writing the bytes out happens elsewhere.
 */
public final class HeapKeyedStateBackend {

    private final String operatorUid;
    private final TypeSerializer<Object> keySerializer;
    private final int maxParallelism;
    private final KeyGroupRange keyGroupRange;
    private final LinkedHashMap<String, StateTable<?>> tables = new LinkedHashMap<>();
    private final Map<String, RestoredKeyedState> restored;
    private Object currentKey;

    public HeapKeyedStateBackend(String operatorUid, TypeSerializer<Object> keySerializer, int maxParallelism,
                                 KeyGroupRange keyGroupRange, Map<String, RestoredKeyedState> restored) {
        this.operatorUid = operatorUid;
        this.keySerializer = keySerializer != null ? keySerializer : Serializers.dynamic();
        this.maxParallelism = maxParallelism;
        this.keyGroupRange = keyGroupRange;
        this.restored = new LinkedHashMap<>(restored);
    }

    public void setCurrentKey(Object key) {
        if (key == null) {
            throw new NullPointerException("The key selector of operator '" + operatorUid
                    + "' returned null: every record of a keyed stream needs a key");
        }
        this.currentKey = key;
    }

    public Object getCurrentKey() {
        return currentKey;
    }

    public KeyGroupRange getKeyGroupRange() {
        return keyGroupRange;
    }

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
                } else {
                    table.map.put(key(), value);
                }
            }

            @Override
            public void clear() {
                table.map.remove(key());
            }
        };
    }

    public <T> ListState<T> getListState(ListStateDescriptor<T> d) {
        StateTable<List<T>> table = table(d, Serializers.listOf(d.getElementSerializer()));
        return new ListState<>() {
            @Override
            public Iterable<T> get() {
                List<T> list = table.map.get(key());
                return list == null ? Collections.emptyList() : Collections.unmodifiableList(list);
            }

            @Override
            public void add(T value) {
                table.map.computeIfAbsent(key(), k -> new ArrayList<>()).add(value);
            }

            @Override
            public void addAll(List<T> values) {
                if (!values.isEmpty()) {
                    table.map.computeIfAbsent(key(), k -> new ArrayList<>()).addAll(values);
                }
            }

            @Override
            public void update(List<T> values) {
                if (values == null || values.isEmpty()) {
                    table.map.remove(key());
                } else {
                    table.map.put(key(), new ArrayList<>(values));
                }
            }

            @Override
            public void clear() {
                table.map.remove(key());
            }
        };
    }

    public <UK, UV> MapState<UK, UV> getMapState(MapStateDescriptor<UK, UV> d) {
        StateTable<Map<UK, UV>> table = table(d, mapSerializer(d.getKeySerializer(), d.getValueSerializer()));
        return new MapState<>() {
            private Map<UK, UV> current() {
                return table.map.get(key());
            }

            @Override
            public UV get(UK k) {
                Map<UK, UV> m = current();
                return m == null ? null : m.get(k);
            }

            @Override
            public void put(UK k, UV v) {
                table.map.computeIfAbsent(key(), x -> new HashMap<>()).put(k, v);
            }

            @Override
            public void putAll(Map<UK, UV> map) {
                if (!map.isEmpty()) {
                    table.map.computeIfAbsent(key(), x -> new HashMap<>()).putAll(map);
                }
            }

            @Override
            public void remove(UK k) {
                Map<UK, UV> m = current();
                if (m != null) {
                    m.remove(k);
                    if (m.isEmpty()) {
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
                return m == null ? Collections.emptyList() : m.entrySet();
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
                table.map.put(k, current == null ? value : reduce.reduce(current, value));
            }

            @Override
            public void clear() {
                table.map.remove(key());
            }
        };
    }

    private Object key() {
        if (currentKey == null) {
            throw new IllegalStateException("Keyed state of operator '" + operatorUid
                    + "' was used outside of processing a record: there is no current key");
        }
        return currentKey;
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
        StateTable<V> table = new StateTable<>(d.getKind(), valueSerializer);
        RestoredKeyedState old = restored.remove(d.getName());
        if (old != null) {
            if (old.kind() != d.getKind()) {
                restored.put(d.getName(), old);
                throw new IllegalStateException("State '" + d.getName() + "' of operator '" + operatorUid
                        + "' was checkpointed as " + old.kind() + " state but is now requested as " + d.getKind()
                        + " state: keep the kind of a state, or give the new state another name");
            }
            for (RestoredKeyedEntry e : old.entries()) {
                table.map.put(Bytes.fromBytes(keySerializer, e.key()), Bytes.fromBytes(valueSerializer, e.value()));
            }
        }
        tables.put(d.getName(), table);
        return table;
    }

    private static <UK, UV> TypeSerializer<Map<UK, UV>> mapSerializer(TypeSerializer<UK> ks, TypeSerializer<UV> vs) {
        return new TypeSerializer<>() {
            @Override
            public void serialize(Map<UK, UV> value, DataOutput out) throws IOException {
                out.writeInt(value.size());
                for (Map.Entry<UK, UV> e : value.entrySet()) {
                    ks.serialize(e.getKey(), out);
                    vs.serialize(e.getValue(), out);
                }
            }

            @Override
            public Map<UK, UV> deserialize(DataInput in) throws IOException {
                int n = in.readInt();
                Map<UK, UV> map = new HashMap<>(Math.max(4, n * 2));
                for (int i = 0; i < n; i++) {
                    map.put(ks.deserialize(in), vs.deserialize(in));
                }
                return map;
            }
        };
    }

    /**
     * Writes every entry: {@code maxParallelism, numStates, (name, kind)*, numEntries,
     * (keyGroup, stateIndex, key bytes, value bytes)*}.
     */
    public void snapshot(DataOutput out) throws IOException {
        out.writeInt(maxParallelism);
        List<String> names = new ArrayList<>(tables.keySet());
        names.addAll(restored.keySet());
        out.writeInt(names.size());
        for (Map.Entry<String, StateTable<?>> e : tables.entrySet()) {
            out.writeUTF(e.getKey());
            out.writeByte(e.getValue().kind.ordinal());
        }
        for (RestoredKeyedState r : restored.values()) {
            out.writeUTF(r.name());
            out.writeByte(r.kind().ordinal());
        }
        int total = 0;
        for (StateTable<?> t : tables.values()) {
            total += t.map.size();
        }
        for (RestoredKeyedState r : restored.values()) {
            total += r.entries().size();
        }
        out.writeInt(total);
        ByteArrayOutputStream buffer = new ByteArrayOutputStream(64);
        DataOutputStream bufferOut = new DataOutputStream(buffer);
        int index = 0;
        for (StateTable<?> t : tables.values()) {
            writeTable(out, index++, t, buffer, bufferOut);
        }
        for (RestoredKeyedState r : restored.values()) {
            for (RestoredKeyedEntry e : r.entries()) {
                out.writeShort(index);
                out.writeInt(e.keyGroup());
                Bytes.writeBytes(out, e.key());
                Bytes.writeBytes(out, e.value());
            }
            index++;
        }
    }

    private <V> void writeTable(DataOutput out, int index, StateTable<V> table, ByteArrayOutputStream buffer,
                                DataOutputStream bufferOut) throws IOException {
        for (Map.Entry<Object, V> e : table.map.entrySet()) {
            out.writeShort(index);
            out.writeInt(KeyGroups.keyGroupFor(e.getKey(), maxParallelism));
            buffer.reset();
            keySerializer.serialize(e.getKey(), bufferOut);
            bufferOut.flush();
            out.writeInt(buffer.size());
            buffer.writeTo(new DataOutputAdapter(out));
            buffer.reset();
            table.valueSerializer.serialize(e.getValue(), bufferOut);
            bufferOut.flush();
            out.writeInt(buffer.size());
            buffer.writeTo(new DataOutputAdapter(out));
        }
    }

    /**
     * Reads what {@link #snapshot} wrote, keeping only the entries of key groups in {@code range}, into
     * {@code into} (state name to entries), so several old subtasks' snapshots can be merged.
     *
     * @return the max parallelism the snapshot was written with
     */
    public static int read(DataInput in, KeyGroupRange range, Map<String, RestoredKeyedState> into) throws IOException {
        int maxParallelism = in.readInt();
        int numStates = in.readInt();
        RestoredKeyedState[] states = new RestoredKeyedState[numStates];
        StateDescriptor.Kind[] kinds = StateDescriptor.Kind.values();
        for (int i = 0; i < numStates; i++) {
            String name = in.readUTF();
            int kind = in.readByte();
            if (kind < 0 || kind >= kinds.length) {
                throw new IOException("Unknown state kind " + kind + " for state '" + name + "'");
            }
            states[i] = into.computeIfAbsent(name, n -> new RestoredKeyedState(n, kinds[kind]));
        }
        int total = in.readInt();
        for (int i = 0; i < total; i++) {
            int index = in.readShort();
            int keyGroup = in.readInt();
            byte[] key = Bytes.readBytes(in);
            byte[] value = Bytes.readBytes(in);
            if (range.contains(keyGroup)) {
                states[index].entries().add(new RestoredKeyedEntry(keyGroup, key, value));
            }
        }
        return maxParallelism;
    }

    private static final class StateTable<V> {
        final StateDescriptor.Kind kind;
        final TypeSerializer<V> valueSerializer;
        final HashMap<Object, V> map = new HashMap<>();

        StateTable(StateDescriptor.Kind kind, TypeSerializer<V> valueSerializer) {
            this.kind = kind;
            this.valueSerializer = valueSerializer;
        }
    }

    /** Lets {@link ByteArrayOutputStream#writeTo} write into a {@link DataOutput}. */
    private static final class DataOutputAdapter extends java.io.OutputStream {
        private final DataOutput out;

        DataOutputAdapter(DataOutput out) {
            this.out = out;
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
        }
    }
}
