package io.onceflow.runtime.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.RocksDBStateBackend;
import io.onceflow.api.serialization.Serializers;
import io.onceflow.api.state.ListState;
import io.onceflow.api.state.ListStateDescriptor;
import io.onceflow.api.state.MapState;
import io.onceflow.api.state.MapStateDescriptor;
import io.onceflow.api.state.ReducingState;
import io.onceflow.api.state.ReducingStateDescriptor;
import io.onceflow.api.state.ValueState;
import io.onceflow.api.state.ValueStateDescriptor;
import io.onceflow.runtime.state.rocksdb.RocksDBKeyedStateBackend;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The RocksDB backend: every state kind, snapshots (full and incremental) that hold the moment they
 * were taken, and checkpoints that the heap backend restores and the other way round, also for a part
 * of the key groups (a rescale); incremental checkpoints upload only new SST files.
 */
class RocksDBKeyedStateBackendTest {

    private static final KeyGroupRange ALL = new KeyGroupRange(0, 127);

    @TempDir
    Path dir;

    private boolean incremental = true;

    private RocksDBKeyedStateBackend rocks(KeyGroupRange range) {
        return new RocksDBKeyedStateBackend("job", "op", 0, null, 128, range,
                RocksDBStateBackend.create().withLocalDirectory(dir.resolve("work")).withIncrementalCheckpoints(incremental));
    }

    /** Shared state files, in a directory of the test. */
    private KeyedStateSnapshot.SharedFiles shared() {
        return (name, file) -> {
            Path target = dir.resolve("shared").resolve(name);
            Files.createDirectories(target.getParent());
            Files.copy(file, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            return new io.onceflow.runtime.storage.StateHandle.InFile("shared/" + name, Files.size(target));
        };
    }

    private SharedFileReader reader() {
        return (handle, file) -> Files.copy(dir.resolve(handle.path()), file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    private static final ValueStateDescriptor<Long> COUNT = new ValueStateDescriptor<>("count", Long.class);
    private static final ListStateDescriptor<String> SEEN = new ListStateDescriptor<>("seen", Serializers.STRING);
    private static final MapStateDescriptor<String, Long> LAST =
            new MapStateDescriptor<>("last", Serializers.STRING, Serializers.LONG);
    private static final ReducingStateDescriptor<Long> SUM = new ReducingStateDescriptor<>("sum", Long::sum, Serializers.LONG);

    /** Fills every kind of state for keys key-0..key-(n-1). */
    private static void fill(KeyedStateBackend b, int n, String tag) throws Exception {
        ValueState<Long> count = b.getState(COUNT);
        ListState<String> seen = b.getListState(SEEN);
        MapState<String, Long> last = b.getMapState(LAST);
        ReducingState<Long> sum = b.getReducingState(SUM);
        for (int k = 0; k < n; k++) {
            b.setCurrentKey("key-" + k);
            count.update((long) k);
            seen.add(tag + k);
            seen.add(tag + "!");
            last.put("a", (long) k);
            last.put("b" + (k % 3), -1L);
            sum.add((long) k);
            sum.add(1L);
        }
    }

    /** Everything a backend holds for keys key-0..key-(n-1), as text, for comparisons. */
    private static Map<String, String> dump(KeyedStateBackend b, int n) throws Exception {
        ValueState<Long> count = b.getState(COUNT);
        ListState<String> seen = b.getListState(SEEN);
        MapState<String, Long> last = b.getMapState(LAST);
        ReducingState<Long> sum = b.getReducingState(SUM);
        Map<String, String> all = new TreeMap<>();
        for (int k = 0; k < n; k++) {
            String key = "key-" + k;
            b.setCurrentKey(key);
            List<String> list = new ArrayList<>();
            seen.get().forEach(list::add);
            Map<String, Long> map = new TreeMap<>();
            last.entries().forEach(e -> map.put(e.getKey(), e.getValue()));
            if (count.value() != null || !list.isEmpty() || !map.isEmpty() || sum.get() != null) {
                all.put(key, count.value() + " " + list + " " + map + " " + sum.get());
            }
        }
        return all;
    }

    private byte[] checkpoint(KeyedStateSnapshot snapshot) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        SubtaskStateFormat.write(bytes, SubtaskStateFormat.operatorState(
                new OperatorStateBackend(Map.of())), snapshot, shared());
        snapshot.release();
        return bytes.toByteArray();
    }

    /** Reads a checkpoint into a backend, as a restore does: then tells it the restore has ended. */
    private void restore(byte[] checkpoint, KeyGroupRange range, KeyedEntrySink into) throws Exception {
        SubtaskStateFormat.read(new ByteArrayInputStream(checkpoint), "test", new HashMap<>(), range, into, reader());
        into.restoreEnded();
    }

    @Test
    void fullSnapshotsToo() throws Exception {
        incremental = false;
        aSnapshotHoldsTheMomentItWasTakenAndEitherBackendRestoresIt();
        aRescaledRestoreKeepsOnlyItsKeyGroups();
    }

    @Test
    void anIncrementalCheckpointUploadsOnlyTheSstFilesThatAreNew() throws Exception {
        try (RocksDBKeyedStateBackend b = rocks(ALL)) {
            fill(b, 20_000, "first");
            KeyedStateSnapshot one = b.snapshot(1);
            checkpoint(one);
            assertTrue(one.uploadedSharedBytes() > 0 && one.uploadedSharedBytes() == one.sharedFiles().stream()
                    .mapToLong(f -> f.size()).sum(), "the first checkpoint uploads everything");

            b.setCurrentKey("key-1");
            b.getState(COUNT).update(-1L);
            KeyedStateSnapshot two = b.snapshot(2);
            checkpoint(two);
            long total = two.sharedFiles().stream().mapToLong(f -> f.size()).sum();
            assertTrue(two.uploadedSharedBytes() < total / 10, "the second uploads only its small new file: "
                    + two.uploadedSharedBytes() + " of " + total + " bytes");
            assertTrue(two.sharedFiles().containsAll(one.sharedFiles()), "and refers to the first one's files");

            Map<String, String> now = dump(b, 20_000);
            byte[] three = checkpoint(b.snapshot(3));
            try (RocksDBKeyedStateBackend restored = rocks(ALL)) {
                restore(three, ALL, restored);
                assertEquals(now, dump(restored, 20_000), "restored from the chain of shared files");
            }
        }
    }

    @Test
    void everyStateKindWorks() throws Exception {
        try (RocksDBKeyedStateBackend b = rocks(ALL)) {
            fill(b, 50, "x");
            b.setCurrentKey("key-7");
            assertEquals(7L, b.getState(COUNT).value());
            assertEquals(8L, b.getReducingState(SUM).get());
            MapState<String, Long> last = b.getMapState(LAST);
            assertTrue(last.contains("b1") && !last.contains("b0"));
            last.remove("b1");
            assertEquals(Map.of("a", 7L), toMap(last));
            last.clear();
            assertTrue(last.isEmpty());
            b.getListState(SEEN).update(List.of("only"));
            assertEquals(List.of("only"), toList(b.getListState(SEEN)));
            b.getState(COUNT).clear();
            assertNull(b.getState(COUNT).value());
            b.setCurrentKey("key-8");
            assertEquals(Map.of("a", 8L, "b2", -1L), toMap(b.getMapState(LAST)), "another key's map is untouched");
        }
    }

    @Test
    void aSnapshotHoldsTheMomentItWasTakenAndEitherBackendRestoresIt() throws Exception {
        byte[] fromRocks;
        Map<String, String> atSnapshot;
        try (RocksDBKeyedStateBackend b = rocks(ALL)) {
            fill(b, 300, "x");
            atSnapshot = dump(b, 300);
            KeyedStateSnapshot snapshot = b.snapshot(1);
            fill(b, 400, "later");  // the task goes on before the snapshot is written
            Map<String, String> later = dump(b, 400);
            fromRocks = checkpoint(snapshot);
            assertEquals(later, dump(b, 400), "the task's own writes meanwhile are all there after the snapshot");
            b.setCurrentKey("key-3");
            b.getMapState(LAST).clear();
            assertTrue(b.getMapState(LAST).isEmpty());
        }
        HeapKeyedStateBackend heap = new HeapKeyedStateBackend("op", null, 128, ALL);
        restore(fromRocks, ALL, heap);
        assertEquals(atSnapshot, dump(heap, 400), "heap restores what RocksDB checkpointed");

        byte[] fromHeap = checkpoint(heap.snapshot(2));
        try (RocksDBKeyedStateBackend b = rocks(ALL)) {
            restore(fromHeap, ALL, b);
            assertEquals(atSnapshot, dump(b, 400), "RocksDB restores what the heap checkpointed (maps included)");
            byte[] again = checkpoint(b.snapshot(3));
            try (RocksDBKeyedStateBackend c = rocks(ALL)) {
                restore(again, ALL, c);
                assertEquals(atSnapshot, dump(c, 400), "and what it checkpointed itself");
            }
        }
    }

    @Test
    void aRescaledRestoreKeepsOnlyItsKeyGroups() throws Exception {
        byte[] checkpoint;
        Map<String, String> all;
        try (RocksDBKeyedStateBackend b = rocks(ALL)) {
            fill(b, 500, "x");
            all = dump(b, 500);
            checkpoint = checkpoint(b.snapshot(1));
        }
        Map<String, String> union = new TreeMap<>();
        for (int subtask = 0; subtask < 3; subtask++) {
            KeyGroupRange range = KeyGroups.rangeFor(128, 3, subtask);
            try (RocksDBKeyedStateBackend part = rocks(range)) {
                restore(checkpoint, range, part);
                Map<String, String> mine = dump(part, 500);
                mine.keySet().forEach(k -> assertTrue(range.contains(KeyGroups.keyGroupFor(k, 128)), k));
                union.putAll(mine);
            }
        }
        assertEquals(all, union, "the three parts together hold everything, once");
    }

    @Test
    void aRestoreOfManyWriteBatchesHoldsEveryRowBeforeAnyStateIsRegistered() throws Exception {
        incremental = false;
        int keys = 3_001;  // some 15,000 rows, written a batch at a time, the last batch partly filled
        byte[] checkpoint;
        Map<String, String> all;
        try (RocksDBKeyedStateBackend b = rocks(ALL)) {
            fill(b, keys, "x");
            all = dump(b, keys);
            checkpoint = checkpoint(b.snapshot(1));
        }
        try (RocksDBKeyedStateBackend b = rocks(ALL)) {
            restore(checkpoint, ALL, b);
            assertEquals(all, dump(b, keys), "every row restored");
        }
        try (RocksDBKeyedStateBackend b = rocks(ALL)) {
            // read without the end of the restore being announced: a snapshot of states nobody registered
            SubtaskStateFormat.read(new ByteArrayInputStream(checkpoint), "test", new HashMap<>(), ALL, b, reader());
            HeapKeyedStateBackend heap = new HeapKeyedStateBackend("op", null, 128, ALL);
            restore(checkpoint(b.snapshot(2)), ALL, heap);
            assertEquals(all, dump(heap, keys), "the snapshot writes the rows still held back first");
        }
    }

    /**
     * A full checkpoint's rows arrive in the database's order and go into SST files moved in whole; two
     * subtasks' checkpoints read the later key groups first end one file and start another, and a heap
     * checkpoint's rows, in no order, go into write batches after the first few: every row there either way.
     */
    @Test
    void restoredRowsInOrderOrNotAllArrive() throws Exception {
        incremental = false;
        int keys = 4_000;  // some 2,000 rows per state and part: each part's rows are a long ascending run
        List<KeyGroupRange> halves = List.of(KeyGroups.rangeFor(128, 2, 0), KeyGroups.rangeFor(128, 2, 1));
        List<byte[]> parts = new ArrayList<>();
        Map<String, String> all = new TreeMap<>();
        for (KeyGroupRange half : halves) {
            try (RocksDBKeyedStateBackend part = rocks(half)) {
                for (int k = 0; k < keys; k++) {
                    String key = "key-" + k;
                    if (half.contains(KeyGroups.keyGroupFor(key, 128))) {
                        part.setCurrentKey(key);
                        part.getState(COUNT).update((long) k);
                        part.getMapState(LAST).put("m" + (k % 5), (long) -k);
                        part.getListState(SEEN).add("s" + k);
                    }
                }
                all.putAll(dump(part, keys));
                parts.add(checkpoint(part.snapshot(1)));
            }
        }
        assertEquals(keys, all.size());
        try (RocksDBKeyedStateBackend b = rocks(ALL)) {
            // key groups 64-127 first, then 0-63, in one restore: each state's rows restart lower
            SubtaskStateFormat.read(new ByteArrayInputStream(parts.get(1)), "test", new HashMap<>(), ALL, b, reader());
            restore(parts.get(0), ALL, b);
            assertEquals(all, dump(b, keys), "both parts' rows, whichever came first");
            assertTrue(listFiles(b.directory()).stream().noneMatch(f -> f.startsWith("restore-")),
                    "no restore file left behind: " + listFiles(b.directory()));
        }
        HeapKeyedStateBackend heap = new HeapKeyedStateBackend("op", null, 128, ALL);
        restore(parts.get(0), ALL, heap);
        restore(parts.get(1), ALL, heap);
        byte[] fromHeap = checkpoint(heap.snapshot(2));
        try (RocksDBKeyedStateBackend b = rocks(ALL)) {
            restore(fromHeap, ALL, b);
            assertEquals(all, dump(b, keys), "the heap checkpoint's rows, in the heap's order");
        }
    }

    /**
     * A checkpoint's SST file damaged in storage (a data block's bytes changed): a restore that reads its rows,
     * copying them at another parallelism or into the heap backend, fails and names the snapshot, instead of
     * taking the rows before the damage as the whole state.
     */
    @Test
    void aDamagedFileFailsARestoreThatReadsItInsteadOfLosingRows() throws Exception {
        int keys = 40_000;  // many data blocks in each part's file
        List<byte[]> parts = new ArrayList<>();
        List<Path> newFiles = new ArrayList<>();
        for (int subtask = 0; subtask < 2; subtask++) {
            KeyGroupRange half = KeyGroups.rangeFor(128, 2, subtask);
            List<String> before = Files.exists(dir.resolve("shared")) ? listFiles(dir.resolve("shared")) : List.of();
            try (RocksDBKeyedStateBackend part = rocks(half)) {
                ValueState<Long> count = part.getState(COUNT);
                for (int k = 0; k < keys; k++) {
                    String key = "key-" + k;
                    if (half.contains(KeyGroups.keyGroupFor(key, 128))) {
                        part.setCurrentKey(key);
                        count.update((long) k);
                    }
                }
                parts.add(checkpoint(part.snapshot(1)));
            }
            Path largest = null;
            for (String f : listFiles(dir.resolve("shared"))) {
                Path p = dir.resolve("shared").resolve(f);
                if (!before.contains(f) && f.endsWith(".sst")
                        && (largest == null || Files.size(p) > Files.size(largest))) {
                    largest = p;
                }
            }
            newFiles.add(largest);
        }
        Path damaged = newFiles.get(1);
        byte[] bytes = Files.readAllBytes(damaged);
        assertTrue(bytes.length > 100_000, "a file of many blocks: " + bytes.length);
        java.util.Arrays.fill(bytes, bytes.length / 3, bytes.length / 3 + 64, (byte) 0x55);
        Files.write(damaged, bytes);

        try (RocksDBKeyedStateBackend b = rocks(ALL)) {  // part 0's files as they are, part 1's rows copied
            Exception e = org.junit.jupiter.api.Assertions.assertThrows(Exception.class, () -> {
                SubtaskStateFormat.read(new ByteArrayInputStream(parts.get(0)), "test", new HashMap<>(), ALL, b,
                        reader());
                restore(parts.get(1), ALL, b);
            });
            assertTrue(String.valueOf(e.getMessage()).contains("Cannot read the RocksDB snapshot"), e.toString());
        }
        HeapKeyedStateBackend heap = new HeapKeyedStateBackend("op", null, 128, ALL);
        Exception e = org.junit.jupiter.api.Assertions.assertThrows(Exception.class,
                () -> restore(parts.get(1), ALL, heap));
        assertTrue(String.valueOf(e.getMessage()).contains("Cannot read the RocksDB snapshot"), e.toString());

        incremental = false;  // the damaged files as a database of its own: its full checkpoint reads every row
        KeyGroupRange half = KeyGroups.rangeFor(128, 2, 1);
        try (RocksDBKeyedStateBackend b = rocks(half)) {
            restore(parts.get(1), half, b);
            KeyedStateSnapshot snapshot = b.snapshot(2);
            e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class, () -> checkpoint(snapshot));
            assertTrue(e.getMessage().contains("Cannot read state 'count' of operator 'op' from RocksDB for a "
                    + "checkpoint"), e.toString());
            snapshot.release();
        }
    }

    private static List<String> listFiles(Path dir) throws java.io.IOException {
        try (var files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).toList();
        }
    }

    @Test
    void aDatabaseClippedOnRescalingChangesCheckpointsAndIsRescaledAgain() throws Exception {
        int keys = 600;
        byte[] whole;
        try (RocksDBKeyedStateBackend b = rocks(ALL)) {
            fill(b, keys, "x");
            whole = checkpoint(b.snapshot(1));
        }
        // 1 -> 3: each part is the one database with the other parts' key groups deleted; it changes its own keys
        List<byte[]> parts = new ArrayList<>();
        Map<String, String> expected = new TreeMap<>();
        for (int subtask = 0; subtask < 3; subtask++) {
            KeyGroupRange range = KeyGroups.rangeFor(128, 3, subtask);
            try (RocksDBKeyedStateBackend part = rocks(range)) {
                restore(whole, range, part);
                for (int k = 0; k < keys; k++) {
                    String key = "key-" + k;
                    if (range.contains(KeyGroups.keyGroupFor(key, 128))) {
                        part.setCurrentKey(key);
                        part.getState(COUNT).update(-1L - k);
                        if (k % 2 == 0) {
                            part.getListState(SEEN).clear();
                            part.getMapState(LAST).remove("a");
                        }
                    }
                }
                Map<String, String> mine = dump(part, keys);
                mine.keySet().forEach(k -> assertTrue(range.contains(KeyGroups.keyGroupFor(k, 128)), k));
                expected.putAll(mine);
                parts.add(checkpoint(part.snapshot(2)));
            }
        }
        assertEquals(keys, expected.size(), "the three parts together hold every key, once");
        assertTrue(expected.get("key-4").startsWith("-5 [] {b1=-1}"), expected.get("key-4"));
        // 3 -> 2: the first part that overlaps is clipped again, the other's rows copied in
        Map<String, String> union = new TreeMap<>();
        for (int subtask = 0; subtask < 2; subtask++) {
            KeyGroupRange range = KeyGroups.rangeFor(128, 2, subtask);
            try (RocksDBKeyedStateBackend part = rocks(range)) {
                for (byte[] checkpoint : parts) {
                    restore(checkpoint, range, part);
                }
                Map<String, String> mine = dump(part, keys);
                mine.keySet().forEach(k -> assertTrue(range.contains(KeyGroups.keyGroupFor(k, 128)), k));
                union.putAll(mine);
                HeapKeyedStateBackend heap = new HeapKeyedStateBackend("op", null, 128, range);
                restore(checkpoint(part.snapshot(3)), range, heap);
                assertEquals(mine, dump(heap, keys), "its own checkpoint holds what it holds, and no deleted row");
            }
        }
        assertEquals(expected, union, "the changes of the three parts, and nothing their deletions removed");
    }

    /**
     * Whole maps restored from a heap checkpoint are split into rows when the map state is registered, in write
     * batches; registered while a checkpoint is taking its files, the split waits for them, so that the checkpoint
     * holds the whole maps its states say it holds.
     */
    @Test
    void restoredMapsSplitWhenRegisteredEvenWhileACheckpointTakesItsFiles() throws Exception {
        int keys = 2_000;  // some 4,000 map entries: several write batches
        HeapKeyedStateBackend heap = new HeapKeyedStateBackend("op", null, 128, ALL);
        fill(heap, keys, "x");
        Map<String, String> all = dump(heap, keys);
        byte[] fromHeap = checkpoint(heap.snapshot(1));
        try (RocksDBKeyedStateBackend b = rocks(ALL)) {
            restore(fromHeap, ALL, b);
            b.setCurrentKey("key-0");
            b.getState(COUNT).value();  // the other states are registered, the maps are not yet
            b.getListState(SEEN).get();
            b.getReducingState(SUM).get();
            KeyedStateSnapshot snapshot = b.snapshot(2);
            var written = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try {
                    return checkpoint(snapshot);
                } catch (Exception e) {
                    throw new java.util.concurrent.CompletionException(e);
                }
            });
            assertEquals(all, dump(b, keys), "the maps split into rows, every entry there");
            HeapKeyedStateBackend again = new HeapKeyedStateBackend("op", null, 128, ALL);
            restore(written.get(30, java.util.concurrent.TimeUnit.SECONDS), ALL, again);
            assertEquals(all, dump(again, keys), "and the checkpoint taken meanwhile holds the whole maps");
        }
    }

    @Test
    void closingWhileASnapshotIsWrittenWaitsForIt() throws Exception {
        RocksDBKeyedStateBackend b = rocks(ALL);
        fill(b, 100, "x");
        Map<String, String> expected = dump(b, 100);
        KeyedStateSnapshot snapshot = b.snapshot(1);
        b.close();
        assertTrue(Files.exists(b.directory()), "the database outlives close() while a snapshot needs it");
        byte[] checkpoint = checkpoint(snapshot);
        assertFalse(Files.exists(b.directory()), "and is deleted once the snapshot is written");
        HeapKeyedStateBackend heap = new HeapKeyedStateBackend("op", null, 128, ALL);
        restore(checkpoint, ALL, heap);
        assertEquals(expected, dump(heap, 100));
    }

    private static List<String> toList(ListState<String> s) throws Exception {
        List<String> l = new ArrayList<>();
        s.get().forEach(l::add);
        return l;
    }

    private static Map<String, Long> toMap(MapState<String, Long> s) throws Exception {
        Map<String, Long> m = new TreeMap<>();
        s.entries().forEach(e -> m.put(e.getKey(), e.getValue()));
        return m;
    }
}
