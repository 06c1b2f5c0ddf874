package io.onceflow.runtime.state;

import io.onceflow.api.serialization.TypeSerializer;
import io.onceflow.api.state.ListState;
import io.onceflow.api.state.ListStateDescriptor;
import io.onceflow.api.state.OperatorStateStore;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Non-keyed list state of one operator subtask, on the heap. Restored elements stay as bytes until
 * the state is registered, and are carried into later snapshots if it never is.
 */
public final class OperatorStateBackend implements OperatorStateStore {

    private final LinkedHashMap<String, HeapListState<?>> states = new LinkedHashMap<>();
    private final Map<String, List<byte[]>> restored;

    public OperatorStateBackend(Map<String, List<byte[]>> restored) {
        this.restored = new LinkedHashMap<>(restored);
    }

    @Override
    public <T> ListState<T> getListState(ListStateDescriptor<T> descriptor) {
        return register(descriptor.getName(), descriptor.getElementSerializer());
    }

    /** For Onceflow's own state (source splits, sink committables), whose names start with "__". */
    public <T> ListState<T> getInternalListState(String name, TypeSerializer<T> serializer) {
        return register(name, serializer);
    }

    @SuppressWarnings("unchecked")
    private <T> HeapListState<T> register(String name, TypeSerializer<T> serializer) {
        HeapListState<?> existing = states.get(name);
        if (existing != null) {
            return (HeapListState<T>) existing;
        }
        HeapListState<T> state = new HeapListState<>(serializer);
        List<byte[]> bytes = restored.remove(name);
        if (bytes != null) {
            for (byte[] b : bytes) {
                state.list.add(Bytes.fromBytes(serializer, b));
            }
        }
        states.put(name, state);
        return state;
    }

    public boolean isEmpty() {
        return states.values().stream().allMatch(s -> s.list.isEmpty()) && restored.isEmpty();
    }

    public void snapshot(DataOutput out) throws IOException {
        out.writeInt(states.size() + restored.size());
        for (Map.Entry<String, HeapListState<?>> e : states.entrySet()) {
            out.writeUTF(e.getKey());
            writeList(out, e.getValue());
        }
        for (Map.Entry<String, List<byte[]>> e : restored.entrySet()) {
            out.writeUTF(e.getKey());
            out.writeInt(e.getValue().size());
            for (byte[] b : e.getValue()) {
                Bytes.writeBytes(out, b);
            }
        }
    }

    private static <T> void writeList(DataOutput out, HeapListState<T> state) throws IOException {
        out.writeInt(state.list.size());
        for (T t : state.list) {
            Bytes.writeBytes(out, Bytes.toBytes(state.serializer, t));
        }
    }

    /** Reads what {@link #snapshot} wrote: state name to the serialized elements. */
    public static Map<String, List<byte[]>> read(DataInput in) throws IOException {
        Map<String, List<byte[]>> result = new LinkedHashMap<>();
        int n = in.readInt();
        for (int i = 0; i < n; i++) {
            String name = in.readUTF();
            int count = in.readInt();
            List<byte[]> elements = new ArrayList<>(count);
            for (int j = 0; j < count; j++) {
                elements.add(Bytes.readBytes(in));
            }
            result.put(name, elements);
        }
        return result;
    }

    private static final class HeapListState<T> implements ListState<T> {
        final TypeSerializer<T> serializer;
        final List<T> list = new ArrayList<>();

        HeapListState(TypeSerializer<T> serializer) {
            this.serializer = serializer;
        }

        @Override
        public Iterable<T> get() {
            return list;
        }

        @Override
        public void add(T value) {
            list.add(value);
        }

        @Override
        public void addAll(List<T> values) {
            list.addAll(values);
        }

        @Override
        public void update(List<T> values) {
            list.clear();
            list.addAll(values);
        }

        @Override
        public void clear() {
            list.clear();
        }
    }
}
