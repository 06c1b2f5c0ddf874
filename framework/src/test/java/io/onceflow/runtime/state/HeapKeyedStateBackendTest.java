package io.onceflow.runtime.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.state.ListState;
import io.onceflow.api.state.ListStateDescriptor;
import io.onceflow.api.state.MapState;
import io.onceflow.api.state.MapStateDescriptor;
import io.onceflow.api.state.ValueState;
import io.onceflow.api.state.ValueStateDescriptor;
import io.onceflow.api.serialization.Serializers;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * An asynchronous snapshot holds the state as it was at the barrier, however the task changes it
 * before the snapshot is written.
 */
class HeapKeyedStateBackendTest {

    private static final KeyGroupRange ALL = new KeyGroupRange(0, 127);

    @Test
    void aSnapshotWrittenLaterHoldsTheStateOfTheMomentItWasTaken() throws Exception {
        HeapKeyedStateBackend backend = new HeapKeyedStateBackend("op", null, 128, ALL);
        ValueState<Long> count = backend.getState(new ValueStateDescriptor<>("count", Long.class));
        ListState<String> seen = backend.getListState(new ListStateDescriptor<>("seen", Serializers.STRING));
        MapState<String, Long> last = backend.getMapState(new MapStateDescriptor<>("last", Serializers.STRING, Serializers.LONG));
        for (int k = 0; k < 1_000; k++) {
            backend.setCurrentKey("key-" + k);
            count.update((long) k);
            seen.add("a" + k);
            last.put("x", (long) k);
        }
        KeyedStateSnapshot snapshot = backend.snapshot(1);

        // the task goes on: every kind of change, before the snapshot is written
        for (int k = 0; k < 1_000; k++) {
            backend.setCurrentKey("key-" + k);
            count.update(count.value() + 1_000_000);
            seen.add("b" + k);
            last.put("x", -1L);
            last.put("y", 7L);
            if (k % 3 == 0) {
                count.clear();
                seen.clear();
            }
        }
        backend.setCurrentKey("new-key");
        count.update(5L);

        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        SubtaskStateFormat.write(bytes, SubtaskStateFormat.operatorState(
                new OperatorStateBackend(Map.of())), snapshot, KeyedStateSnapshot.SharedFiles.NONE);
        snapshot.release();

        HeapKeyedStateBackend restored = new HeapKeyedStateBackend("op", null, 128, ALL);
        SubtaskStateFormat.read(new ByteArrayInputStream(bytes.toByteArray()), "test", new HashMap<>(), ALL, restored);
        ValueState<Long> rCount = restored.getState(new ValueStateDescriptor<>("count", Long.class));
        ListState<String> rSeen = restored.getListState(new ListStateDescriptor<>("seen", Serializers.STRING));
        MapState<String, Long> rLast = restored.getMapState(new MapStateDescriptor<>("last", Serializers.STRING, Serializers.LONG));
        for (int k = 0; k < 1_000; k++) {
            restored.setCurrentKey("key-" + k);
            assertEquals(k, rCount.value());
            List<String> list = new ArrayList<>();
            rSeen.get().forEach(list::add);
            assertEquals(List.of("a" + k), list);
            Map<String, Long> map = new LinkedHashMap<>();
            rLast.entries().forEach(e -> map.put(e.getKey(), e.getValue()));
            assertEquals(Map.of("x", (long) k), map);
        }
        restored.setCurrentKey("new-key");
        assertTrue(rCount.value() == null, "a key added after the snapshot is not in it");

        // and the live backend still holds its own, newer state
        backend.setCurrentKey("key-1");
        assertEquals(1_000_001L, count.value());
        List<String> live = new ArrayList<>();
        seen.get().forEach(live::add);
        assertEquals(List.of("a1", "b1"), live);
    }
}
