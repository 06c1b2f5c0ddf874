package io.onceflow.runtime.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The copy-on-write map behaves like a HashMap, and a snapshot keeps what the map held when it was taken. */
class CopyOnWriteStateMapTest {

    /** A key whose hash collides with others on purpose: long bucket chains, and segments that cannot split. */
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

    @Test
    void aDiffOfTwoSnapshotsTurnsTheOlderIntoTheNewerAndReportsOnlyWhatChanged() throws Exception {
        Random random = new Random(7);
        CopyOnWriteStateMap<Object, Object> map = new CopyOnWriteStateMap<>();
        Map<Object, Object> expected = new HashMap<>();
        List<CopyOnWriteStateMap.Snapshot<Object, Object>> snapshots = new ArrayList<>();
        List<Map<Object, Object>> contents = new ArrayList<>();
        List<Set<Object>> touched = new ArrayList<>(); // keys put or removed since the snapshot before
        Set<Object> since = new HashSet<>();
        for (int round = 0; round < 24; round++) {
            // rounds of few and of many changes, on few and on many keys, with collisions and removals
            int ops = round % 3 == 0 ? 20 : 3_000;
            int keys = round % 4 == 0 ? 30 : 20_000;
            // every fifth round removes nothing: a diff across one such round reads the round's log alone
            boolean removing = round % 5 != 1;
            for (int op = 0; op < ops; op++) {
                Object key = random.nextInt(8) == 0 ? new Colliding(random.nextInt(60)) : (Object) random.nextInt(keys);
                if (removing && random.nextInt(4) == 0) {
                    map.remove(key);
                    expected.remove(key);
                } else if (expected.containsKey(key) && random.nextInt(10) == 0) {
                    map.put(key, expected.get(key)); // the same object again: not a change
                } else {
                    Object value = new Object();
                    map.put(key, value);
                    expected.put(key, value);
                }
                since.add(key);
            }
            snapshots.add(map.snapshot());
            contents.add(new HashMap<>(expected));
            touched.add(since);
            since = new HashSet<>();
        }
        for (int i = 0; i < snapshots.size(); i++) {
            for (int j = i + 1; j < snapshots.size(); j = j + 1 + random.nextInt(5)) {
                Map<Object, Object> applied = new HashMap<>(contents.get(i));
                Map<Object, Object> newer = contents.get(j);
                Set<Object> reported = new HashSet<>();
                CopyOnWriteStateMap.diff(snapshots.get(i), snapshots.get(j), new CopyOnWriteStateMap.DiffVisitor<>() {
                    @Override
                    public void changed(Object key, Object value) {
                        assertTrue(reported.add(key), "a key is reported once");
                        applied.put(key, value);
                    }

                    @Override
                    public void removed(Object key) {
                        assertTrue(reported.add(key), "a key is reported once");
                        assertFalse(newer.containsKey(key), "a key reported removed is not in the newer one");
                        applied.remove(key);
                    }
                });
                assertEquals(contents.get(j), applied, "snapshot " + i + " with the diff to " + j);
                Set<Object> mayChange = new HashSet<>();
                for (int k = i + 1; k <= j; k++) {
                    mayChange.addAll(touched.get(k));
                }
                assertTrue(mayChange.containsAll(reported),
                        "only keys written between the snapshots are reported, not what they share");
            }
        }
    }

    @Test
    void aDiffLoadingEntriesAheadVisitsEachLoggedEntryOnceWhateverTheLogsLength() throws Exception {
        int group = CopyOnWriteStateMap.TOUCH_AHEAD;
        for (int length : new int[] {0, 1, group - 1, group, group + 1, 3 * group + 5, 10_007}) {
            CopyOnWriteStateMap<Object, Object> map = new CopyOnWriteStateMap<>();
            for (int k = 0; k < 20_000; k++) {
                map.put(k, "old");
            }
            CopyOnWriteStateMap.Snapshot<Object, Object> before = map.snapshot();
            Map<Object, Object> expected = new HashMap<>();
            for (int k = 0; k < length; k++) {
                Object value = "new " + k;
                map.put(k * 7 % 20_000, value);
                expected.put(k * 7 % 20_000, value);
            }
            CopyOnWriteStateMap.Snapshot<Object, Object> after = map.snapshot();
            List<List<Object>> visits = new ArrayList<>();
            for (int ahead : new int[] {group, 1}) {
                List<Object> visited = new ArrayList<>();
                Map<Object, Object> seen = new HashMap<>();
                CopyOnWriteStateMap.diff(before, after, new CopyOnWriteStateMap.DiffVisitor<>() {
                    @Override
                    public void changed(Object key, Object value) {
                        assertNull(seen.put(key, value), "key " + key + " visited once");
                        visited.add(key);
                    }

                    @Override
                    public void removed(Object key) {
                        throw new AssertionError("nothing was removed: " + key);
                    }
                }, ahead);
                assertEquals(expected, seen, "a log of " + length + " keys, " + ahead + " loaded ahead");
                visits.add(visited);
            }
            assertEquals(visits.get(1), visits.get(0), "the same entries in the same order either way");
        }
    }

    @Test
    void putTellsWhenTheKeyAlreadyHeldThatVeryObject() {
        CopyOnWriteStateMap<Object, Object> map = new CopyOnWriteStateMap<>();
        Object value = new Object();
        assertFalse(map.put("a", value));
        assertTrue(map.put("a", value), "the same object again: a change in place a diff cannot see");
        assertFalse(map.put("a", new Object()));
        Object colliding = new Object();
        assertFalse(map.put(new Colliding(1), colliding));
        assertFalse(map.put(new Colliding(8), colliding));
        assertTrue(map.put(new Colliding(8), colliding));
    }

    @Test
    void aMapSizedAheadForItsEntriesBehavesAsOneThatGrewWhateverCameAfterwards() throws Exception {
        Random random = new Random(7);
        // as a restore fills it: sized for as many, fewer or more than were sized for, or none
        int[][] sizedAndFilled = {{0, 0}, {1, 1}, {600, 600}, {769, 769}, {5_000, 5_000}, {200_000, 200_000},
                                  {200_000, 3_000}, {3_000, 200_000}};
        for (int[] c : sizedAndFilled) {
            String what = "sized for " + c[0] + ", filled with " + c[1];
            CopyOnWriteStateMap<Object, Object> map = new CopyOnWriteStateMap<>();
            map.presize(c[0]);
            Map<Object, Object> expected = new HashMap<>();
            for (int k = 0; k < c[1]; k++) {
                Object key = k % 50 == 0 ? new Colliding(k) : "key-" + k;
                map.put(key, k);
                expected.put(key, k);
            }
            map.presize(10_000_000); // a map already written to keeps its shape
            assertEquals(expected.size(), map.size(), what);
            CopyOnWriteStateMap.Snapshot<Object, Object> restored = map.snapshot();
            Map<Object, Object> atRestore = new HashMap<>(expected);
            writeRandomly(map, expected, random, 20_000);
            Map<Object, Object> now = new HashMap<>();
            map.forEach(now::put);
            assertEquals(expected, now, what);
            Map<Object, Object> frozen = new HashMap<>();
            restored.forEach(frozen::put);
            assertEquals(atRestore, frozen, what + ": the snapshot taken after the fill stays as it was");
            for (Map.Entry<Object, Object> e : atRestore.entrySet()) {
                if (random.nextInt(100) == 0) {
                    assertEquals(e.getValue(), restored.get(e.getKey()), what + ": " + e.getKey());
                }
            }
            // a diff from the snapshot after the fill turns it into the map as it is now
            CopyOnWriteStateMap.Snapshot<Object, Object> later = map.snapshot();
            Map<Object, Object> patched = new HashMap<>(atRestore);
            CopyOnWriteStateMap.diff(restored, later, applyingTo(patched));
            assertEquals(expected, patched, what);
        }
    }

    @Test
    void aMillionKeysSplitSegmentsAndEverySnapshotKeepsItsOwnValues() throws Exception {
        CopyOnWriteStateMap<Object, Object> map = new CopyOnWriteStateMap<>();
        int keys = 1_000_000;
        List<CopyOnWriteStateMap.Snapshot<Object, Object>> snapshots = new ArrayList<>();
        for (int round = 0; round < 4; round++) {
            for (int k = round; k < keys; k += 1 + round) {
                map.put("k" + k, round); // boxed small integers: one object per value, compared by identity
            }
            snapshots.add(map.snapshot());
        }
        for (int k = 0; k < keys; k += 9_973) {
            Object expected = null;
            for (int round = 0; round < 4; round++) {
                if (k >= round && (k - round) % (1 + round) == 0) {
                    expected = round;
                }
                assertEquals(expected, snapshots.get(round).get("k" + k), "k" + k + " in snapshot " + round);
            }
        }
        Map<Object, Object> all = new HashMap<>();
        snapshots.get(0).forEach(all::put);
        assertEquals(keys, all.size(), "the first snapshot holds every key once");
        assertEquals(keys, snapshots.get(3).size());
        assertEquals(keys, map.size());
        // the diff of the last two reports the keys the last round wrote with a new value, and nothing else
        int[] changed = new int[1];
        CopyOnWriteStateMap.diff(snapshots.get(2), snapshots.get(3), new CopyOnWriteStateMap.DiffVisitor<>() {
            @Override
            public void changed(Object key, Object value) {
                assertEquals(3, value);
                changed[0]++;
            }

            @Override
            public void removed(Object key) {
                throw new AssertionError("nothing was removed: " + key);
            }
        });
        assertEquals((keys - 3 + 3) / 4, changed[0]);
    }

    @Test
    void snapshotsCanBeComparedOnlyWhileTheChangesBetweenThemAreKept() throws Exception {
        CopyOnWriteStateMap<Object, Object> map = new CopyOnWriteStateMap<>();
        map.put("a", 1L);
        CopyOnWriteStateMap.Snapshot<Object, Object> first = map.snapshot();
        map.put("b", 2L);
        CopyOnWriteStateMap.Snapshot<Object, Object> second = map.snapshot();
        map.put("c", 3L);
        CopyOnWriteStateMap.Snapshot<Object, Object> third = map.snapshot();
        assertTrue(CopyOnWriteStateMap.canDiff(first, third));
        assertFalse(CopyOnWriteStateMap.canDiff(third, first), "the older one first");
        CopyOnWriteStateMap.forgetBefore(second);
        assertFalse(CopyOnWriteStateMap.canDiff(first, third), "the changes after the first are forgotten");
        assertTrue(CopyOnWriteStateMap.canDiff(second, third));
        assertThrows(IllegalStateException.class, () -> CopyOnWriteStateMap.diff(first, third, ignoring()));

        CopyOnWriteStateMap<Object, Object> other = new CopyOnWriteStateMap<>();
        assertFalse(CopyOnWriteStateMap.canDiff(first, other.snapshot()), "snapshots of another map");
        CopyOnWriteStateMap<Object, Object> untracked = new CopyOnWriteStateMap<>(false);
        untracked.put("a", 1L);
        CopyOnWriteStateMap.Snapshot<Object, Object> u1 = untracked.snapshot();
        untracked.put("b", 2L);
        assertFalse(CopyOnWriteStateMap.canDiff(u1, untracked.snapshot()), "a map that does not log its changes");
    }

    @Test
    void logsOfSnapshotsNeverComparedAreDroppedOnceTheyOutgrowTheirBudget() {
        CopyOnWriteStateMap<Object, Object> map = new CopyOnWriteStateMap<>();
        int keys = 1_000;
        CopyOnWriteStateMap.Snapshot<Object, Object> first = map.snapshot();
        CopyOnWriteStateMap.Snapshot<Object, Object> before = first;
        CopyOnWriteStateMap.Snapshot<Object, Object> last = first;
        // no snapshot is ever written (forgetBefore never called), as while checkpoint storage is down
        for (int round = 0; round <= CopyOnWriteStateMap.MIN_LOG_BUDGET / keys + 1; round++) {
            for (int k = 0; k < keys; k++) {
                map.put(k, new Object());
            }
            before = last;
            last = map.snapshot();
        }
        assertFalse(CopyOnWriteStateMap.canDiff(first, last), "the logs since the first were dropped");
        assertTrue(CopyOnWriteStateMap.canDiff(before, last), "the newest version's log is kept");
    }

    @Test
    void onceASnapshotIsReleasedItsEntriesAreWrittenInPlaceWhileAPinnedOneStaysFrozen() {
        CopyOnWriteStateMap<Object, Object> map = new CopyOnWriteStateMap<>();
        map.put("a", 1L);
        CopyOnWriteStateMap.Snapshot<Object, Object> first = map.snapshot();
        map.put("a", 2L);
        assertEquals(1L, first.get("a"), "a pinned snapshot keeps its entry: the write went to a copy");
        CopyOnWriteStateMap.Snapshot<Object, Object> second = map.snapshot();
        second.release();
        map.put("a", 3L);
        // what a released snapshot reads is not promised; here it shows where the write went
        assertEquals(3L, second.get("a"), "the copy is seen by the released second only: written in place");
        assertEquals(1L, first.get("a"), "the older pinned snapshot does not see the copy, so does not hold it back");
        first.release();
        first.release(); // a second release does nothing
        CopyOnWriteStateMap.Snapshot<Object, Object> third = map.snapshot();
        map.put("a", 4L);
        assertEquals(3L, third.get("a"), "pinned again: copied again");
        assertEquals(3L, second.get("a"));
        third.release();
        map.put("a", 5L);
        assertEquals(5L, map.get("a"));
        assertEquals(3L, third.get("a"), "the third's own entry was left alone: 4 went to a copy, and 5 into that copy");
    }

    /**
     * As the heap backend uses the map: a snapshot at each checkpoint, read (its diff from the last one written,
     * sometimes all of it) while the owner writes on, then released; now and then one held far longer (a base
     * written in the background), some never released (a checkpoint abandoned). Every pinned snapshot stays as it
     * was taken, and every diff turns what the last written one held into what the new one holds.
     */
    @Test
    void snapshotsReleasedAfterTheirWriteStayExactWhileReadAndTheirDiffsChainUp() throws Exception {
        Random random = new Random(11);
        CopyOnWriteStateMap<Object, Object> map = new CopyOnWriteStateMap<>();
        Map<Object, Object> expected = new HashMap<>();
        CopyOnWriteStateMap.Snapshot<Object, Object> lastWritten = null;
        Map<Object, Object> lastWrittenContents = new HashMap<>();
        CopyOnWriteStateMap.Snapshot<Object, Object> longHeld = null;
        Map<Object, Object> longHeldContents = null;
        for (int round = 0; round < 60; round++) {
            writeRandomly(map, expected, random, round % 7 == 0 ? 5 : 2_000);
            CopyOnWriteStateMap.Snapshot<Object, Object> taken = map.snapshot();
            Map<Object, Object> takenContents = new HashMap<>(expected);
            if (round % 11 == 5) {
                continue; // abandoned: never read, never released
            }
            writeRandomly(map, expected, random, 1_000); // the owner goes on while the snapshot is written
            Map<Object, Object> applied = new HashMap<>(lastWrittenContents);
            if (lastWritten == null || !CopyOnWriteStateMap.canDiff(lastWritten, taken)) {
                applied.clear();
                taken.forEach(applied::put);
            } else {
                CopyOnWriteStateMap.diff(lastWritten, taken, applyingTo(applied));
            }
            assertTrue(takenContents.equals(applied), "round " + round + ": the last written one with the diff");
            if (longHeld == null && round % 13 == 3) {
                longHeld = taken; // released some rounds later
                longHeldContents = takenContents;
            } else {
                taken.release();
            }
            if (longHeld != null && round % 13 == 9) {
                Map<Object, Object> read = new HashMap<>();
                longHeld.forEach(read::put);
                assertTrue(longHeldContents.equals(read), "a snapshot held for rounds stays as it was taken");
                longHeld.release();
                longHeld = null;
            }
            CopyOnWriteStateMap.forgetBefore(taken);
            lastWritten = taken;
            lastWrittenContents = takenContents;
        }
        Map<Object, Object> now = new HashMap<>();
        map.forEach(now::put);
        assertEquals(expected, now);
    }

    /**
     * A snapshot read on another thread while the owner writes on, released by that thread when read: up to
     * three are pinned at once, released in the order they were read, and each reads exactly what the map held
     * when it was taken, while the owner writes in place into what the released ones saw.
     */
    @Test
    void snapshotsReadAndReleasedOnAnotherThreadSeeNoWriteMadeAfterThem() throws Exception {
        CopyOnWriteStateMap<Object, Object> map = new CopyOnWriteStateMap<>();
        Map<Object, Object> expected = new HashMap<>();
        java.util.concurrent.BlockingQueue<Object[]> toRead = new java.util.concurrent.ArrayBlockingQueue<>(3);
        List<String> wrong = java.util.Collections.synchronizedList(new ArrayList<>());
        java.util.concurrent.atomic.AtomicInteger read = new java.util.concurrent.atomic.AtomicInteger();
        Thread reader = new Thread(() -> {
            try {
                while (true) {
                    Object[] next = toRead.take();
                    if (next.length == 0) {
                        return;
                    }
                    @SuppressWarnings("unchecked")
                    CopyOnWriteStateMap.Snapshot<Object, Object> snapshot = (CopyOnWriteStateMap.Snapshot<Object, Object>) next[0];
                    Map<Object, Object> seen = new HashMap<>();
                    snapshot.forEach(seen::put);
                    if (!seen.equals(next[1]) || snapshot.size() != seen.size()) {
                        wrong.add("snapshot " + next[2] + " read differently from the map when it was taken");
                    }
                    snapshot.release();
                    read.incrementAndGet();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "snapshot reader");
        reader.start();
        Random random = new Random(5);
        int rounds = 300;
        for (int round = 0; round < rounds; round++) {
            for (int op = 0; op < 3_000; op++) {
                Object key = random.nextInt(10) == 0 ? new Colliding(random.nextInt(40)) : (Object) random.nextInt(4_000);
                if (random.nextInt(8) == 0) {
                    map.remove(key);
                    expected.remove(key);
                } else {
                    Long value = 1_000_000L + random.nextInt(1_000_000); // a new object each time
                    map.put(key, value);
                    expected.put(key, value);
                }
            }
            toRead.put(new Object[] {map.snapshot(), new HashMap<>(expected), round});
        }
        toRead.put(new Object[0]);
        reader.join(60_000);
        assertEquals(List.of(), wrong);
        assertEquals(rounds, read.get());
        Map<Object, Object> now = new HashMap<>();
        map.forEach(now::put);
        assertEquals(expected, now);
    }

    private static void writeRandomly(CopyOnWriteStateMap<Object, Object> map, Map<Object, Object> expected,
                                      Random random, int ops) {
        for (int op = 0; op < ops; op++) {
            Object key = random.nextInt(8) == 0 ? new Colliding(random.nextInt(60)) : (Object) random.nextInt(3_000);
            if (random.nextInt(6) == 0) {
                map.remove(key);
                expected.remove(key);
            } else {
                Object value = new Object();
                map.put(key, value);
                expected.put(key, value);
            }
        }
    }

    /** Applies what a diff reports to {@code contents}, turning the older snapshot's contents into the newer's. */
    private static CopyOnWriteStateMap.DiffVisitor<Object, Object> applyingTo(Map<Object, Object> contents) {
        return new CopyOnWriteStateMap.DiffVisitor<>() {
            @Override
            public void changed(Object key, Object value) {
                contents.put(key, value);
            }

            @Override
            public void removed(Object key) {
                contents.remove(key);
            }
        };
    }

    private static CopyOnWriteStateMap.DiffVisitor<Object, Object> ignoring() {
        return new CopyOnWriteStateMap.DiffVisitor<>() {
            @Override
            public void changed(Object key, Object value) {
            }

            @Override
            public void removed(Object key) {
            }
        };
    }
}
