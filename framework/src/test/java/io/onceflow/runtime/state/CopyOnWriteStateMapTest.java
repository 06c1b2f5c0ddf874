package io.onceflow.runtime.state;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The copy-on-write map behaves like a HashMap, and a snapshot keeps what the map held when it was taken. */
class CopyOnWriteStateMapTest {

    /** A key whose hash collides with others on purpose: the trie's collision nodes get used too. */
    record Colliding(int id) {
        @Override
        public int hashCode() {
            return id % 7;
        }
    }

    @Test
    void randomOperationsAgreeWithAHashMapAndSnapshotsStayFrozen() {
        Random random = new Random(42);
        CopyOnWriteStateMap<Object, Integer> map = new CopyOnWriteStateMap<>();
        Map<Object, Integer> expected = new HashMap<>();
        List<Object[]> snapshots = new ArrayList<>();
        for (int op = 0; op < 200_000; op++) {
            Object key = random.nextInt(10) == 0 ? new Colliding(random.nextInt(50)) : (Object) random.nextInt(5_000);
            int action = random.nextInt(10);
            if (action < 6) {
                int value = random.nextInt();
                map.put(key, value);
                expected.put(key, value);
            } else if (action < 9) {
                map.remove(key);
                expected.remove(key);
            } else {
                assertEquals(expected.get(key), map.get(key), "get " + key);
            }
            if (op % 20_000 == 0) {
                snapshots.add(new Object[] {map.snapshot(), new HashMap<>(expected)});
            }
            assertEquals(expected.size(), map.size());
        }
        Map<Object, Integer> now = new HashMap<>();
        map.forEach(now::put);
        assertEquals(expected, now);
        for (Object[] s : snapshots) {
            @SuppressWarnings("unchecked")
            CopyOnWriteStateMap.Snapshot<Object, Integer> snapshot = (CopyOnWriteStateMap.Snapshot<Object, Integer>) s[0];
            Map<Object, Integer> frozen = new HashMap<>();
            snapshot.forEach(frozen::put);
            assertEquals(s[1], frozen, "a snapshot holds exactly what the map held when it was taken");
            assertEquals(((Map<?, ?>) s[1]).size(), snapshot.size());
        }
    }
}
