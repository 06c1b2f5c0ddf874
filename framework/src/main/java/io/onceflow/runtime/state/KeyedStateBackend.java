package io.onceflow.runtime.state;

import io.onceflow.api.state.ListState;
import io.onceflow.api.state.ListStateDescriptor;
import io.onceflow.api.state.MapState;
import io.onceflow.api.state.MapStateDescriptor;
import io.onceflow.api.state.ReducingState;
import io.onceflow.api.state.ReducingStateDescriptor;
import io.onceflow.api.state.ValueState;
import io.onceflow.api.state.ValueStateDescriptor;

/**
 * The keyed state of one operator subtask: state objects scoped to the current key, for the key
 * groups the subtask owns. Implementations: {@link HeapKeyedStateBackend} (Java objects on the heap)
 * and {@code RocksDBKeyedStateBackend} (serialized, in an embedded RocksDB on local disk).
 *
 * <h2>Threads</h2>
 * Everything but the returned {@link KeyedStateSnapshot} is used by the subtask's thread only.
 *
 * <h2>Checkpoints</h2>
 * {@link #snapshot} runs on the subtask's thread at the barrier and must only fix a consistent view
 * of the state (a generation of copy-on-write maps, a RocksDB snapshot): it is the task's pause. The
 * snapshot it returns is written to checkpoint storage by another thread while the task goes on,
 * and released once written or abandoned.
 */
public interface KeyedStateBackend extends AutoCloseable {

    void setCurrentKey(Object key);

    /** The key of the record being processed, as the user gave it. */
    Object getCurrentKey();

    KeyGroupRange getKeyGroupRange();

    <T> ValueState<T> getState(ValueStateDescriptor<T> descriptor);

    <T> ListState<T> getListState(ListStateDescriptor<T> descriptor);

    <UK, UV> MapState<UK, UV> getMapState(MapStateDescriptor<UK, UV> descriptor);

    <T> ReducingState<T> getReducingState(ReducingStateDescriptor<T> descriptor);

    /** Fixes the state as it is now for checkpoint {@code checkpointId}; cheap, on the subtask's thread. */
    KeyedStateSnapshot snapshot(long checkpointId) throws Exception;

    /** Releases what the backend holds (files, native memory). */
    @Override
    void close();
}
