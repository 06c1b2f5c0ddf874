package io.onceflow.runtime.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.RocksDBStateBackend;
import io.onceflow.api.serialization.Serializers;
import io.onceflow.api.serialization.TypeSerializer;
import io.onceflow.api.state.ListState;
import io.onceflow.api.state.ListStateDescriptor;
import io.onceflow.api.state.MapState;
import io.onceflow.api.state.MapStateDescriptor;
import io.onceflow.api.state.ReducingState;
import io.onceflow.api.state.ReducingStateDescriptor;
import io.onceflow.api.state.ValueState;
import io.onceflow.api.state.ValueStateDescriptor;
import io.onceflow.runtime.state.rocksdb.RocksDBKeyedStateBackend;
import io.onceflow.runtime.storage.StateHandle;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Incremental heap checkpoints: each checkpoint writes a delta of what changed since the one before,
 * and a restore of any of them — into the heap or into RocksDB, whole or one key-group range —
 * yields exactly the state at its barrier, through removals, every state kind, failed writes and
 * values changed in place.
 */
class HeapIncrementalCheckpointTest {

    private static final KeyGroupRange ALL = new KeyGroupRange(0, 127);

    private static final ValueStateDescriptor<Long> COUNT = new ValueStateDescriptor<>("count", Long.class);
    private static final ListStateDescriptor<String> SEEN = new ListStateDescriptor<>("seen", Serializers.STRING);
    private static final MapStateDescriptor<String, Long> LAST =
            new MapStateDescriptor<>("last", Serializers.STRING, Serializers.LONG);
    private static final ReducingStateDescriptor<Long> SUM = new ReducingStateDescriptor<>("sum", Long::sum, Serializers.LONG);
    /** A mutable value some user code changes in place and puts again. */
    private static final ValueStateDescriptor<long[]> HOLDER = new ValueStateDescriptor<>("holder", new TypeSerializer<>() {
        @Override
        public void serialize(long[] value, DataOutput out) throws IOException {
            out.writeLong(value[0]);
        }

        @Override
        public long[] deserialize(DataInput in) throws IOException {
            return new long[] {in.readLong()};
        }
    });

    @TempDir
    Path dir;

    /** The shared state storage, in a directory of the test; fails an upload when told to. */
    private final class Shared extends DirectorySharedFiles {
        boolean failNext;

        Shared() {
            super(HeapIncrementalCheckpointTest.this.dir);
        }

        @Override
        public StateHandle.InFile upload(String name, Path file) throws IOException {
            if (failNext) {
                failNext = false;
                throw new IOException("No space left on device (injected)");
            }
            return super.upload(name, file);
        }
    }

    private SharedFileReader reader() {
        return new DirectorySharedFiles(dir).reader();
    }

    @Test
    void everyCheckpointOfAChainRestoresExactlyTheStateAtItsBarrier() throws Exception {
        Shared shared = new Shared();
        HeapKeyedStateBackend backend = new HeapKeyedStateBackend("op", null, 128, ALL, true);
        Random random = new Random(11);
        Map<String, String> model = new TreeMap<>();
        int keys = 3_000;
        int deltas = 0;
        int bases = 0;
        StringBuilder kinds = new StringBuilder();
        for (long checkpoint = 1; checkpoint <= 30; checkpoint++) {
            // few changes in some rounds (a small delta), many in others (a new base)
            int changes = checkpoint == 1 || checkpoint == 16 || checkpoint == 24 ? 6_000 : 150;
            for (int i = 0; i < changes; i++) {
                change(backend, "key-" + random.nextInt(keys), random, checkpoint == 12 || checkpoint == 13
                        || checkpoint == 20);
            }
            Map<String, String> atBarrier = dump(backend, keys);
            KeyedStateSnapshot snapshot = backend.snapshot(checkpoint);
            // the task goes on before the snapshot is written
            changeRandomKeys(backend, random, keys, 200);
            if (checkpoint == 9 || checkpoint == 20) {
                shared.failNext = true;
                assertThrows(IOException.class, () -> checkpoint(snapshot, shared), "an upload that fails fails the write");
                continue;
            }
            int before = shared.uploaded.size();
            byte[] bytes = checkpoint(snapshot, shared);
            assertEquals(before + 1, shared.uploaded.size(), "one file per checkpoint");
            StateHandle.InFile file = shared.uploaded.get(before);
            boolean delta = file.path().endsWith("-delta");
            kinds.append(delta ? 'd' : 'B');
            if (delta) {
                deltas++;
            } else {
                bases++;
            }
            if (checkpoint == 1 || checkpoint == 12 || checkpoint == 13 || checkpoint == 21) {
                assertTrue(!delta, "checkpoint " + checkpoint + " is a new base: the first one, or values were changed "
                        + "in place since the last one written (21: in checkpoint 20, whose write failed)");
            }
            if (checkpoint == 2 || checkpoint == 3 || checkpoint == 10) {
                assertTrue(delta, "a few changes make a delta (10: of 8, as 9's write failed)");
            }
            HeapKeyedStateBackend restored = new HeapKeyedStateBackend("op", null, 128, ALL, true);
            restore(bytes, ALL, restored);
            assertSameState(atBarrier, dump(restored, keys), "checkpoint " + checkpoint + " restores the barrier's state");
            model = atBarrier;
            if (checkpoint % 10 == 0) {
                // the same chain into RocksDB, and split into three key-group ranges
                try (RocksDBKeyedStateBackend rocks = new RocksDBKeyedStateBackend("job", "op", 0, null, 128, ALL,
                        RocksDBStateBackend.create().withLocalDirectory(dir.resolve("rocks-" + checkpoint)))) {
                    restore(bytes, ALL, rocks);
                    assertSameState(atBarrier, dump(rocks, keys), "RocksDB restores the heap's chain");
                }
                Map<String, String> union = new TreeMap<>();
                for (int subtask = 0; subtask < 3; subtask++) {
                    KeyGroupRange range = KeyGroups.rangeFor(128, 3, subtask);
                    HeapKeyedStateBackend part = new HeapKeyedStateBackend("op", null, 128, range, true);
                    restore(bytes, range, part);
                    Map<String, String> mine = dump(part, keys);
                    mine.keySet().forEach(k -> assertTrue(range.contains(KeyGroups.keyGroupFor(k, 128)), k));
                    union.putAll(mine);
                }
                assertSameState(atBarrier, union, "three key-group ranges together hold everything once");
            }
        }
        assertTrue(deltas >= 15 && bases >= 5, "deltas " + deltas + ", bases " + bases + ": " + kinds);
        assertTrue(!model.isEmpty());
    }

    @Test
    void aDeltaHoldsOnlyWhatChanged() throws Exception {
        Shared shared = new Shared();
        HeapKeyedStateBackend backend = new HeapKeyedStateBackend("op", null, 128, ALL, true);
        ValueState<Long> count = backend.getState(COUNT);
        for (int k = 0; k < 100_000; k++) {
            backend.setCurrentKey("key-" + k);
            count.update((long) k);
        }
        checkpoint(backend.snapshot(1), shared);
        for (int k = 0; k < 100; k++) {
            backend.setCurrentKey("key-" + (k * 997));
            count.update(-1L);
        }
        backend.setCurrentKey("key-5");
        count.clear();
        checkpoint(backend.snapshot(2), shared);
        long base = shared.uploaded.get(0).size();
        long delta = shared.uploaded.get(1).size();
        assertTrue(shared.uploaded.get(1).path().endsWith("-delta"));
        assertTrue(delta * 500 < base, "101 changed keys of 100,000: delta " + delta + " bytes, base " + base);
    }

    @Test
    void aFullSnapshotBetweenTwoCheckpointsMakesTheNextOneANewBase() throws Exception {
        Shared shared = new Shared();
        HeapKeyedStateBackend backend = new HeapKeyedStateBackend("op", null, 128, ALL, true);
        Random random = new Random(3);
        int keys = 2_000;
        changeRandomKeys(backend, random, keys, 4_000);
        checkpoint(backend.snapshot(1), shared);
        changeRandomKeys(backend, random, keys, 100);
        // written in full, without shared files (as a savepoint is): the tables drop their logs up to it
        byte[] full = checkpoint(backend.snapshot(2), KeyedStateSnapshot.SharedFiles.NONE);
        changeRandomKeys(backend, random, keys, 100);
        Map<String, String> atThird = dump(backend, keys);
        byte[] third = checkpoint(backend.snapshot(3), shared);
        changeRandomKeys(backend, random, keys, 100);
        Map<String, String> atFourth = dump(backend, keys);
        byte[] fourth = checkpoint(backend.snapshot(4), shared);
        assertEquals(List.of("-base", "-base", "-delta"), kinds(shared),
                "the changes since checkpoint 1 are no longer known at 3: a base, then deltas again");
        HeapKeyedStateBackend restored = new HeapKeyedStateBackend("op", null, 128, ALL, true);
        restore(third, ALL, restored);
        assertSameState(atThird, dump(restored, keys), "the new base");
        HeapKeyedStateBackend again = new HeapKeyedStateBackend("op", null, 128, ALL, true);
        restore(fourth, ALL, again);
        assertSameState(atFourth, dump(again, keys), "a delta of the new base");
        HeapKeyedStateBackend fromFull = new HeapKeyedStateBackend("op", null, 128, ALL, true);
        restore(full, ALL, fromFull);
        assertTrue(dump(fromFull, keys).size() > keys / 2, "the full snapshot restores too");
    }

    @Test
    void theFirstCheckpointAfterARestoreIsADeltaOfTheRestoredChain() throws Exception {
        Shared shared = new Shared();
        HeapKeyedStateBackend backend = new HeapKeyedStateBackend("op", null, 128, ALL, true);
        Random random = new Random(5);
        int keys = 5_000;
        changeRandomKeys(backend, random, keys, 20_000);
        checkpoint(backend.snapshot(1), shared);
        changeRandomKeys(backend, random, keys, 100);
        byte[] second = checkpoint(backend.snapshot(2), shared);
        long base = shared.uploaded.get(0).size();

        // a new process restores checkpoint 2 (base + delta), changes a few keys, removes some, checkpoints
        HeapKeyedStateBackend restored = new HeapKeyedStateBackend("op", null, 128, ALL, true);
        restoreAsAttempt(second, ALL, restored);
        for (int i = 0; i < 100; i++) {
            change(restored, "key-" + random.nextInt(keys), random, false);
        }
        Map<String, String> atBarrier = dump(restored, keys);
        KeyedStateSnapshot snapshot = restored.snapshot(3);
        for (int i = 0; i < 200; i++) {
            change(restored, "key-" + random.nextInt(keys), random, false); // after the barrier: not in 3
        }
        byte[] third = checkpoint(snapshot, shared);
        StateHandle.InFile written = shared.uploaded.get(2);
        assertTrue(written.path().endsWith("-delta"), "a delta of the restored chain: " + written.path());
        assertTrue(written.size() * 20 < base, "~100 changed keys of 5,000: delta " + written.size() + " bytes, base "
                + base);
        assertEquals(List.of(shared.uploaded.get(0), shared.uploaded.get(1), written), snapshot.sharedFiles(),
                "the chain goes on: the restored base and delta, then the new delta");
        HeapKeyedStateBackend again = new HeapKeyedStateBackend("op", null, 128, ALL, true);
        restoreAsAttempt(third, ALL, again);
        assertSameState(atBarrier, dump(again, keys), "the continued chain restores the state at its barrier");

        // and the next checkpoint is a delta of that one, as in any process
        for (int i = 0; i < 50; i++) {
            change(again, "key-" + random.nextInt(keys), random, false);
        }
        Map<String, String> atFourth = dump(again, keys);
        byte[] fourth = checkpoint(again.snapshot(4), shared);
        assertTrue(shared.uploaded.get(3).path().endsWith("-delta"));
        HeapKeyedStateBackend last = new HeapKeyedStateBackend("op", null, 128, ALL, true);
        restoreAsAttempt(fourth, ALL, last);
        assertSameState(atFourth, dump(last, keys), "a delta of a continued chain");
    }

    @Test
    void aRestoredChainDueForANewBaseGetsOneMoreDeltaAndTheNextCheckpointWritesTheBase() throws Exception {
        Shared shared = new Shared();
        HeapKeyedStateBackend backend = new HeapKeyedStateBackend("op", null, 128, ALL, true);
        Random random = new Random(8);
        int keys = 2_000;
        changeEveryKey(backend, random, keys);
        checkpoint(backend.snapshot(1), shared);
        for (int k = 0; k < keys; k += 2) {
            change(backend, "key-" + k, random, false); // half the keys: a delta of about half the base
        }
        checkpoint(backend.snapshot(2), shared);
        for (int k = 0; k < keys * 7 / 10; k++) {
            change(backend, "key-" + k, random, false); // 70 %: the deltas now outweigh the base
        }
        byte[] third = checkpoint(backend.snapshot(3), shared);
        assertEquals(List.of("-base", "-delta", "-delta"), kinds(shared));
        assertTrue(shared.uploaded.get(1).size() + shared.uploaded.get(2).size() > shared.uploaded.get(0).size(),
                "in this process the next checkpoint would write a new base");

        HeapKeyedStateBackend restored = new HeapKeyedStateBackend("op", null, 128, ALL, true);
        restoreAsAttempt(third, ALL, restored);
        for (int i = 0; i < 20; i++) {
            change(restored, "key-" + random.nextInt(keys), random, false);
        }
        Map<String, String> atFourth = dump(restored, keys);
        byte[] fourth = checkpoint(restored.snapshot(4), shared);
        assertEquals("-delta", kinds(shared).get(3), "the restarted job's first checkpoint stays small");
        HeapKeyedStateBackend again = new HeapKeyedStateBackend("op", null, 128, ALL, true);
        restoreAsAttempt(fourth, ALL, again);
        assertSameState(atFourth, dump(again, keys), "the chain one delta longer restores the state at its barrier");

        change(restored, "key-1", random, false);
        checkpoint(restored.snapshot(5), shared);
        assertEquals("-base", kinds(shared).get(4), "the base that was due comes with the next checkpoint");
    }

    @Test
    void checkpointsBeforeTheFirstChangeAfterARestoreLeaveTheExtraDeltaToTheFirstOneWithAChange() throws Exception {
        Shared shared = new Shared();
        HeapKeyedStateBackend backend = new HeapKeyedStateBackend("op", null, 128, ALL, true);
        Random random = new Random(9);
        int keys = 2_000;
        changeEveryKey(backend, random, keys);
        checkpoint(backend.snapshot(1), shared);
        changeEveryKey(backend, random, keys); // every key: the delta outweighs the base on its own
        byte[] second = checkpoint(backend.snapshot(2), shared);
        assertEquals(List.of("-base", "-delta"), kinds(shared));

        // restarted; two checkpoints come before the sources read anything (a slow start), then input
        HeapKeyedStateBackend restored = new HeapKeyedStateBackend("op", null, 128, ALL, true);
        restoreAsAttempt(second, ALL, restored);
        registerEveryState(restored); // as the operators' open() does, before any checkpoint
        checkpoint(restored.snapshot(3), shared);
        checkpoint(restored.snapshot(4), shared);
        for (int i = 0; i < 20; i++) {
            change(restored, "key-" + random.nextInt(keys), random, false);
        }
        Map<String, String> atFifth = dump(restored, keys);
        byte[] fifth = checkpoint(restored.snapshot(5), shared);
        assertEquals(List.of("-base", "-delta", "-delta", "-delta", "-delta"), kinds(shared),
                "the first checkpoint holding input after the restart is still a delta");
        assertTrue(shared.uploaded.get(4).size() * 20 < shared.uploaded.get(0).size(),
                "20 changed keys of 2,000: delta " + shared.uploaded.get(4).size() + " bytes");
        HeapKeyedStateBackend again = new HeapKeyedStateBackend("op", null, 128, ALL, true);
        restoreAsAttempt(fifth, ALL, again);
        assertSameState(atFifth, dump(again, keys), "the chain of empty deltas and one small one restores its barrier");

        change(restored, "key-1", random, false);
        byte[] sixth = checkpoint(restored.snapshot(6), shared);
        assertEquals("-base", kinds(shared).get(5), "the base that was due comes with the next checkpoint");
        Map<String, String> atSixth = dump(restored, keys);
        HeapKeyedStateBackend last = new HeapKeyedStateBackend("op", null, 128, ALL, true);
        restoreAsAttempt(sixth, ALL, last);
        assertSameState(atSixth, dump(last, keys), "the new base");
    }

    /** A base writer that runs what it is given only when the test says so. */
    private static final class LaterWriter implements java.util.concurrent.Executor {
        final List<Runnable> queued = new ArrayList<>();

        @Override
        public void execute(Runnable task) {
            queued.add(task);
        }

        void runAll() {
            List<Runnable> now = new ArrayList<>(queued);
            queued.clear();
            now.forEach(Runnable::run);
        }
    }

    @Test
    void aDueBaseIsWrittenBesideTheChainAndTheNextCheckpointStartsWithIt() throws Exception {
        Shared shared = new Shared();
        LaterWriter writer = new LaterWriter();
        HeapKeyedStateBackend backend = new HeapKeyedStateBackend("op", null, 128, ALL, true, writer);
        Random random = new Random(21);
        int keys = 2_000;
        changeEveryKey(backend, random, keys);
        checkpoint(backend.snapshot(1), shared);
        changeEveryKey(backend, random, keys); // every key: the delta outweighs the base on its own
        checkpoint(backend.snapshot(2), shared);
        assertTrue(writer.queued.isEmpty(), "no base is due yet");

        changeRandomKeys(backend, random, keys, 100);
        Map<String, String> atThird = dump(backend, keys);
        KeyedStateSnapshot third = backend.snapshot(3);
        changeRandomKeys(backend, random, keys, 300); // the task goes on; the base must hold the barrier's state
        byte[] thirdBytes = checkpoint(third, shared);
        assertEquals(List.of("-base", "-delta", "-delta"), kinds(shared),
                "the checkpoint a base is due at writes only its delta");
        assertEquals(1, writer.queued.size(), "and hands its state to the base writer");

        changeRandomKeys(backend, random, keys, 100);
        Map<String, String> atFourth = dump(backend, keys);
        byte[] fourth = checkpoint(backend.snapshot(4), shared);
        assertEquals("-delta", kinds(shared).get(3), "while the base is written the chain goes on with deltas");
        assertEquals(1, writer.queued.size(), "one base at a time");

        writer.runAll();
        assertEquals(5, shared.uploaded.size());
        StateHandle.InFile base = shared.uploaded.get(4);
        assertTrue(base.path().endsWith("-3-base"), "the whole state of checkpoint 3: " + base.path());

        changeRandomKeys(backend, random, keys, 100);
        Map<String, String> atFifth = dump(backend, keys);
        KeyedStateSnapshot fifth = backend.snapshot(5);
        byte[] fifthBytes = checkpoint(fifth, shared);
        StateHandle.InFile delta5 = shared.uploaded.get(5);
        assertEquals(List.of(base, shared.uploaded.get(3), delta5), fifth.sharedFiles(),
                "the chain starts with the new base, then the deltas written after its snapshot");
        assertEquals(base.size() + delta5.size(), fifth.uploadedSharedBytes(),
                "the first checkpoint to use the base counts its bytes");
        assertTrue(writer.queued.isEmpty(), "the shorter chain is not due for another base");

        assertRestoresTo(atThird, thirdBytes, keys, "checkpoint 3, whose state the base holds");
        assertRestoresTo(atFourth, fourth, keys, "checkpoint 4, written while the base was");
        assertRestoresTo(atFifth, fifthBytes, keys, "checkpoint 5, from the new base");
        KeyGroupRange half = KeyGroups.rangeFor(128, 2, 1);
        HeapKeyedStateBackend part = new HeapKeyedStateBackend("op", null, 128, half, true);
        restore(fifthBytes, half, part);
        Map<String, String> mine = dump(part, keys);
        Map<String, String> expected = new TreeMap<>(atFifth);
        expected.keySet().removeIf(k -> !half.contains(KeyGroups.keyGroupFor(k, 128)));
        assertSameState(expected, mine, "half of the key groups, from the chain that starts with the new base");
    }

    @Test
    void aBaseTheWriterCouldNotUploadIsTriedAgainAndOneForAClosedBackendIsNotWritten() throws Exception {
        Shared shared = new Shared();
        LaterWriter writer = new LaterWriter();
        HeapKeyedStateBackend backend = new HeapKeyedStateBackend("op", null, 128, ALL, true, writer);
        Random random = new Random(22);
        int keys = 1_000;
        for (int round = 1; round <= 3; round++) {
            changeEveryKey(backend, random, keys);
            checkpoint(backend.snapshot(round), shared);
        }
        assertEquals(1, writer.queued.size());
        shared.failNext = true;
        writer.runAll(); // logged; nothing uploaded
        assertEquals(3, shared.uploaded.size());

        changeRandomKeys(backend, random, keys, 50);
        Map<String, String> atFourth = dump(backend, keys);
        KeyedStateSnapshot fourth = backend.snapshot(4);
        byte[] fourthBytes = checkpoint(fourth, shared);
        assertEquals(4, fourth.sharedFiles().size(), "the chain goes on without the base that failed");
        assertEquals(1, writer.queued.size(), "and the checkpoint hands its state to the writer again");
        writer.runAll();
        assertTrue(shared.uploaded.get(4).path().endsWith("-4-base"), shared.uploaded.get(4).path());
        assertRestoresTo(atFourth, fourthBytes, keys, "the delta after the failed base");

        changeEveryKey(backend, random, keys);
        KeyedStateSnapshot fifth = backend.snapshot(5);
        checkpoint(fifth, shared);
        assertEquals(2, fifth.sharedFiles().size(), "base 4 and delta 5");
        for (int round = 6; round <= 7; round++) {
            changeEveryKey(backend, random, keys);
            checkpoint(backend.snapshot(round), shared);
        }
        assertEquals(1, writer.queued.size(), "deltas 5 and 6 outweigh base 4: a new base is due");
        int uploads = shared.uploaded.size();
        backend.close();
        writer.runAll();
        assertEquals(uploads, shared.uploaded.size(), "a closed backend's base is not uploaded");
    }

    @Test
    void withBasesWrittenInTheBackgroundAtRandomMomentsEveryCheckpointRestoresItsBarrier() throws Exception {
        Shared shared = new Shared();
        LaterWriter writer = new LaterWriter();
        HeapKeyedStateBackend backend = new HeapKeyedStateBackend("op", null, 128, ALL, true, writer);
        Random random = new Random(23);
        int keys = 1_500;
        java.util.Set<StateHandle.InFile> writtenInBackground = new java.util.HashSet<>();
        int startingWithThem = 0;
        int longest = 0;
        for (long checkpoint = 1; checkpoint <= 40; checkpoint++) {
            int changes = random.nextInt(4) == 0 ? 3_000 : 200;
            for (int i = 0; i < changes; i++) {
                change(backend, "key-" + random.nextInt(keys), random, checkpoint == 17);
            }
            if (checkpoint == 25) {
                // a savepoint between two checkpoints: the next checkpoint must be a base of its own
                checkpoint(backend.snapshot(1_000), KeyedStateSnapshot.SharedFiles.NONE);
            }
            Map<String, String> atBarrier = dump(backend, keys);
            KeyedStateSnapshot snapshot = backend.snapshot(checkpoint);
            changeRandomKeys(backend, random, keys, 100);
            int before = shared.uploaded.size();
            if (random.nextInt(3) == 0) {
                writer.runAll(); // the writer finishes before the checkpoint's write
            }
            if (random.nextInt(8) == 0) {
                shared.failNext = true; // the writer's upload or the checkpoint's fails
                writer.runAll();
            }
            writtenInBackground.addAll(shared.uploaded.subList(before, shared.uploaded.size()));
            byte[] bytes;
            try {
                bytes = checkpoint(snapshot, shared);
            } catch (IOException e) {
                continue; // the checkpoint's own upload failed: it does not count
            }
            List<StateHandle.InFile> chain = snapshot.sharedFiles();
            longest = Math.max(longest, chain.size());
            startingWithThem += writtenInBackground.contains(chain.get(0)) ? 1 : 0;
            assertRestoresTo(atBarrier, bytes, keys, "checkpoint " + checkpoint);
        }
        assertTrue(longest <= 20, "bases written in the background keep the chains short: longest " + longest);
        assertTrue(writtenInBackground.size() >= 3 && startingWithThem >= 10, writtenInBackground.size()
                + " bases written in the background, " + startingWithThem + " checkpoints starting with one");
    }

    private static List<String> kinds(Shared shared) {
        return shared.uploaded.stream().map(f -> f.path().substring(f.path().lastIndexOf('-'))).toList();
    }

    @Test
    void aStateNotRegisteredAfterTheRestoreStaysInTheContinuedChain() throws Exception {
        Shared shared = new Shared();
        HeapKeyedStateBackend backend = new HeapKeyedStateBackend("op", null, 128, ALL, true);
        for (int k = 0; k < 1_000; k++) {
            backend.setCurrentKey("key-" + k);
            backend.getState(COUNT).update((long) k);
            backend.getReducingState(SUM).add((long) -k);
        }
        byte[] first = checkpoint(backend.snapshot(1), shared);
        HeapKeyedStateBackend restored = new HeapKeyedStateBackend("op", null, 128, ALL, true);
        restoreAsAttempt(first, ALL, restored);
        restored.setCurrentKey("key-7");
        restored.getState(COUNT).update(700L); // "sum" is never asked for in this attempt
        byte[] second = checkpoint(restored.snapshot(2), shared);
        assertTrue(shared.uploaded.get(1).path().endsWith("-delta"), shared.uploaded.get(1).path());
        HeapKeyedStateBackend again = new HeapKeyedStateBackend("op", null, 128, ALL, true);
        restoreAsAttempt(second, ALL, again);
        again.setCurrentKey("key-7");
        assertEquals(700L, again.getState(COUNT).value());
        assertEquals(-7L, again.getReducingState(SUM).get());
        again.setCurrentKey("key-999");
        assertEquals(999L, again.getState(COUNT).value());
        assertEquals(-999L, again.getReducingState(SUM).get());
    }

    @Test
    void aRestoreOfOtherKeyGroupsOrOfValuesChangedInPlaceStartsANewBase() throws Exception {
        Shared shared = new Shared();
        HeapKeyedStateBackend backend = new HeapKeyedStateBackend("op", null, 128, ALL, true);
        Random random = new Random(3);
        for (int i = 0; i < 5_000; i++) {
            change(backend, "key-" + random.nextInt(1_000), random, false);
        }
        byte[] first = checkpoint(backend.snapshot(1), shared);

        // half of the key groups (a rescale): the chain holds others' keys too, so it is not continued
        KeyGroupRange half = KeyGroups.rangeFor(128, 2, 0);
        HeapKeyedStateBackend part = new HeapKeyedStateBackend("op", null, 128, half, true);
        part.snapshotWrittenFor(ALL);
        restore(first, half, part);
        change(part, "key-1", random, false);
        checkpoint(part.snapshot(2), shared);
        assertTrue(shared.uploaded.get(1).path().endsWith("-base"), shared.uploaded.get(1).path());

        // a value changed in place after the restore: a delta could not see it
        HeapKeyedStateBackend restored = new HeapKeyedStateBackend("op", null, 128, ALL, true);
        restoreAsAttempt(first, ALL, restored);
        String key = null;
        for (int k = 0; key == null; k++) {
            restored.setCurrentKey("key-" + k);
            if (restored.getState(HOLDER).value() != null) {
                key = "key-" + k;
            }
        }
        change(restored, key, random, true);
        Map<String, String> atBarrier = dump(restored, 1_000);
        byte[] second = checkpoint(restored.snapshot(2), shared);
        assertTrue(shared.uploaded.get(2).path().endsWith("-base"), shared.uploaded.get(2).path());
        HeapKeyedStateBackend again = new HeapKeyedStateBackend("op", null, 128, ALL, true);
        restoreAsAttempt(second, ALL, again);
        assertSameState(atBarrier, dump(again, 1_000), "the new base holds the value changed in place");
    }

    /** Registers every state {@link #change} uses, as an operator's {@code open()} does. */
    private static void registerEveryState(KeyedStateBackend b) throws Exception {
        b.getState(COUNT);
        b.getListState(SEEN);
        b.getMapState(LAST);
        b.getReducingState(SUM);
        b.getState(HOLDER);
    }

    /** One change ({@link #change}, not in place) to every key from {@code key-0} to {@code key-(keys-1)}. */
    private static void changeEveryKey(KeyedStateBackend b, Random random, int keys) throws Exception {
        for (int k = 0; k < keys; k++) {
            change(b, "key-" + k, random, false);
        }
    }

    /** {@code times} changes ({@link #change}, not in place) to keys drawn from {@code key-0 .. key-(keys-1)}. */
    private static void changeRandomKeys(KeyedStateBackend b, Random random, int keys, int times) throws Exception {
        for (int i = 0; i < times; i++) {
            change(b, "key-" + random.nextInt(keys), random, false);
        }
    }

    /** One random change of every kind of state for {@code key}; {@code inPlace}: change the holder in place. */
    private static void change(KeyedStateBackend b, String key, Random random, boolean inPlace) throws Exception {
        b.setCurrentKey(key);
        ValueState<Long> count = b.getState(COUNT);
        ListState<String> seen = b.getListState(SEEN);
        MapState<String, Long> last = b.getMapState(LAST);
        ReducingState<Long> sum = b.getReducingState(SUM);
        ValueState<long[]> holder = b.getState(HOLDER);
        switch (random.nextInt(9)) {
            case 0 -> count.clear();
            case 1 -> seen.clear();
            case 2 -> last.remove("m" + random.nextInt(3));
            case 3 -> last.clear();
            case 4 -> sum.clear();
            default -> {
                count.update(count.value() == null ? 1 : count.value() + 1);
                seen.add("s" + random.nextInt(100));
                last.put("m" + random.nextInt(3), random.nextLong());
                sum.add((long) random.nextInt(10));
            }
        }
        long[] h = holder.value();
        if (h != null && inPlace) {
            h[0]++;
            holder.update(h); // the same object, changed: only a full snapshot sees it
        } else {
            holder.update(new long[] {h == null ? 0 : h[0] + 1});
        }
    }

    /** A new attempt restoring {@code checkpoint} holds exactly {@code expected}. */
    private void assertRestoresTo(Map<String, String> expected, byte[] checkpoint, int keys, String what)
            throws Exception {
        HeapKeyedStateBackend restored = new HeapKeyedStateBackend("op", null, 128, ALL, true);
        restoreAsAttempt(checkpoint, ALL, restored);
        assertSameState(expected, dump(restored, keys), what + " restores the state at its barrier");
    }

    /** Fails naming the first keys that differ, not printing thousands of them. */
    private static void assertSameState(Map<String, String> expected, Map<String, String> actual, String what) {
        List<String> differ = new ArrayList<>();
        java.util.Set<String> keys = new java.util.TreeSet<>(expected.keySet());
        keys.addAll(actual.keySet());
        for (String k : keys) {
            if (!java.util.Objects.equals(expected.get(k), actual.get(k))) {
                differ.add(k + ": expected " + expected.get(k) + ", was " + actual.get(k));
            }
        }
        assertTrue(differ.isEmpty(), what + ": " + differ.size() + " of " + keys.size() + " keys differ, first "
                + differ.subList(0, Math.min(5, differ.size())));
    }

    private static Map<String, String> dump(KeyedStateBackend b, int keys) throws Exception {
        Map<String, String> all = new TreeMap<>();
        for (int k = 0; k < keys; k++) {
            String key = "key-" + k;
            b.setCurrentKey(key);
            List<String> list = new ArrayList<>();
            b.getListState(SEEN).get().forEach(list::add);
            Map<String, Long> map = new TreeMap<>();
            b.getMapState(LAST).entries().forEach(e -> map.put(e.getKey(), e.getValue()));
            Long count = b.getState(COUNT).value();
            Long sum = b.getReducingState(SUM).get();
            long[] holder = b.getState(HOLDER).value();
            if (count != null || !list.isEmpty() || !map.isEmpty() || sum != null || holder != null) {
                all.put(key, count + " " + list + " " + map + " " + sum + " " + (holder == null ? null : holder[0]));
            }
        }
        return all;
    }

    private static byte[] checkpoint(KeyedStateSnapshot snapshot, KeyedStateSnapshot.SharedFiles shared) throws Exception {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            SubtaskStateFormat.write(bytes, SubtaskStateFormat.operatorState(
                    new OperatorStateBackend(Map.of())), snapshot, shared);
            return bytes.toByteArray();
        } finally {
            snapshot.release();
        }
    }

    /** As a new attempt at the same parallelism restores a subtask: one snapshot, written for its key groups. */
    private void restoreAsAttempt(byte[] checkpoint, KeyGroupRange range, KeyedEntrySink into) throws Exception {
        into.snapshotWrittenFor(range);
        restore(checkpoint, range, into);
    }

    private void restore(byte[] checkpoint, KeyGroupRange range, KeyedEntrySink into) throws Exception {
        SubtaskStateFormat.read(new ByteArrayInputStream(checkpoint), "test", new HashMap<>(), range, into, reader());
    }
}
