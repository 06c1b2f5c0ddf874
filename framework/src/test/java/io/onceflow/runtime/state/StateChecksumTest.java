package io.onceflow.runtime.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.serialization.Serializers;
import io.onceflow.api.state.ListStateDescriptor;
import io.onceflow.api.state.ValueStateDescriptor;
import io.onceflow.runtime.storage.CheckpointMetadata;
import io.onceflow.runtime.storage.MetadataFormat;
import io.onceflow.runtime.storage.StateHandle;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A byte of a checkpoint changed in storage — a state's value, a source's offset in the operator state, the
 * metadata — fails the restore that reads it, naming what is damaged, instead of restoring a wrong value. Each test
 * changes the last byte of a value found by its bytes, so the damaged data still parses.
 */
class StateChecksumTest {

    private static final KeyGroupRange ALL = new KeyGroupRange(0, 127);
    /** A value whose eight bytes are found in the written state. */
    private static final long MARK = 0x0123456789ABCDEFL;
    private static final ValueStateDescriptor<Long> COUNT = new ValueStateDescriptor<>("count", Long.class);
    private static final ListStateDescriptor<Long> OFFSETS = new ListStateDescriptor<>("offsets", Serializers.LONG);

    @TempDir
    Path dir;

    private DirectorySharedFiles shared;
    private List<StateHandle.InFile> uploaded;
    private SharedFileReader reader;

    @BeforeEach
    void sharedFiles() {
        shared = new DirectorySharedFiles(dir);
        uploaded = shared.uploaded;
        reader = shared.reader();
    }

    @Test
    void aValueChangedInAnIncrementalHeapCheckpointsFileFailsItsRestore() throws Exception {
        byte[] checkpoint = checkpoint(withMarkedKey(new HeapKeyedStateBackend("op", null, 128, ALL, true)),
                new OperatorStateBackend(Map.of()));
        assertEquals(1, uploaded.size(), "the state is in one shared file");
        assertEquals(MARK, restoredMark(checkpoint), "the file as written restores");

        Path file = dir.resolve(uploaded.get(0).path());
        Files.write(file, damaged(Files.readAllBytes(file)));
        IOException e = assertThrows(IOException.class, () -> restoredMark(checkpoint));
        assertTrue(e.getMessage().contains("Shared state file " + uploaded.get(0).path() + " of test is damaged"),
                e.getMessage());
    }

    @Test
    void aValueChangedInAFullCheckpointFailsItsRestore() throws Exception {
        byte[] checkpoint = checkpoint(withMarkedKey(new HeapKeyedStateBackend("op", null, 128, ALL, false)),
                new OperatorStateBackend(Map.of()));
        assertTrue(uploaded.isEmpty(), "the state is in the checkpoint's own stream");
        assertEquals(MARK, restoredMark(checkpoint));

        byte[] damaged = damaged(checkpoint);
        IOException e = assertThrows(IOException.class, () -> restoredMark(damaged));
        assertTrue(e.getMessage().startsWith("The state of test is damaged"), e.getMessage());
    }

    @Test
    void aChangedOperatorStateFailsEvenARestoreThatReadsNoKeyedState() throws Exception {
        OperatorStateBackend operatorState = new OperatorStateBackend(Map.of());
        operatorState.getListState(OFFSETS).add(MARK);
        byte[] checkpoint = checkpoint(withMarkedKey(new HeapKeyedStateBackend("op", null, 128, ALL, false)),
                operatorState);
        // the mark is in the operator state first, then in the keyed state: the first occurrence is changed
        byte[] damaged = damaged(checkpoint);
        assertEquals(List.of(MARK), offsets(checkpoint, KeyGroupRange.EMPTY));
        IOException e = assertThrows(IOException.class, () -> offsets(damaged, KeyGroupRange.EMPTY));
        assertTrue(e.getMessage().startsWith("The operator state of test is damaged"), e.getMessage());
        assertThrows(IOException.class, () -> offsets(damaged, ALL));
    }

    @Test
    void aChangedMetadataFileIsRefused() throws Exception {
        byte[] inline = ByteBuffer.allocate(8).putLong(MARK).array();
        CheckpointMetadata metadata = new CheckpointMetadata("job", 7, 1_000, Map.of("source",
                new CheckpointMetadata.OperatorState("source", 1, 128, List.of(new CheckpointMetadata.SubtaskState(
                        0, KeyGroupRange.EMPTY, new StateHandle.Inline(inline), List.of(), 0)))));
        byte[] written = MetadataFormat.write(metadata);
        StateHandle read = MetadataFormat.read(written, "chk-7/_metadata").operators().get("source").subtasks().get(0)
                .handle();
        assertEquals(MARK, ByteBuffer.wrap(((StateHandle.Inline) read).data()).getLong(), "the file as written reads");

        IOException e = assertThrows(IOException.class, () -> MetadataFormat.read(damaged(written), "chk-7/_metadata"));
        assertTrue(e.getMessage().startsWith("chk-7/_metadata is damaged"), e.getMessage());
    }

    @Test
    void checkpointsWrittenBeforeTheChecksumsAreStillRead() throws Exception {
        // the formats before the checksums: the same bytes without them, under the version number before
        byte[] operatorState = SubtaskStateFormat.operatorState(new OperatorStateBackend(Map.of()));
        byte[] full = checkpoint(withMarkedKey(new HeapKeyedStateBackend("op", null, 128, ALL, false)),
                new OperatorStateBackend(Map.of()));
        int firstChecksum = 8 + operatorState.length;
        ByteArrayOutputStream version2 = new ByteArrayOutputStream();
        version2.write(full, 0, firstChecksum);
        version2.write(full, firstChecksum + 4, full.length - 4 - (firstChecksum + 4));
        byte[] oldFull = withInt(version2.toByteArray(), 4, 2);
        assertEquals(MARK, restoredMark(oldFull), "a subtask state of version 2");

        byte[] chain = checkpoint(withMarkedKey(new HeapKeyedStateBackend("op", null, 128, ALL, true)),
                new OperatorStateBackend(Map.of()));
        Path file = dir.resolve(uploaded.get(0).path());
        byte[] written = Files.readAllBytes(file);
        Files.write(file, withInt(java.util.Arrays.copyOf(written, written.length - 4), 4, 1));
        assertEquals(MARK, restoredMark(chain), "a heap chain file of version 1");

        CheckpointMetadata metadata = new CheckpointMetadata("job", 7, 1_000, Map.of());
        byte[] current = MetadataFormat.write(metadata);
        byte[] oldMetadata = withInt(java.util.Arrays.copyOf(current, current.length - 4), 4, 2);
        assertEquals(7, MetadataFormat.read(oldMetadata, "chk-7/_metadata").checkpointId(), "metadata of version 2");
    }

    private static byte[] withInt(byte[] data, int offset, int value) {
        ByteBuffer.wrap(data).putInt(offset, value);
        return data;
    }

    private static KeyedStateBackend withMarkedKey(KeyedStateBackend backend) throws Exception {
        for (int k = 0; k < 100; k++) {
            backend.setCurrentKey("key-" + k);
            backend.getState(COUNT).update(k == 42 ? MARK : k);
        }
        return backend;
    }

    private byte[] checkpoint(KeyedStateBackend backend, OperatorStateBackend operatorState) throws Exception {
        KeyedStateSnapshot snapshot = backend.snapshot(1);
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            SubtaskStateFormat.write(bytes, SubtaskStateFormat.operatorState(operatorState), snapshot, shared);
            return bytes.toByteArray();
        } finally {
            snapshot.release();
        }
    }

    private long restoredMark(byte[] checkpoint) throws Exception {
        HeapKeyedStateBackend restored = new HeapKeyedStateBackend("op", null, 128, ALL, true);
        restored.snapshotWrittenFor(ALL);
        SubtaskStateFormat.read(new ByteArrayInputStream(checkpoint), "test", new HashMap<>(), ALL, restored, reader);
        restored.setCurrentKey("key-42");
        return restored.getState(COUNT).value();
    }

    private List<Long> offsets(byte[] checkpoint, KeyGroupRange keyGroups) throws Exception {
        Map<String, List<byte[]>> lists = new HashMap<>();
        HeapKeyedStateBackend keyed = new HeapKeyedStateBackend("op", null, 128, ALL, false);
        keyed.snapshotWrittenFor(keyGroups);
        SubtaskStateFormat.read(new ByteArrayInputStream(checkpoint), "test", lists, keyGroups, keyed, reader);
        List<Long> offsets = new ArrayList<>();
        new OperatorStateBackend(lists).getListState(OFFSETS).get().forEach(offsets::add);
        return offsets;
    }

    /** A copy of {@code data} whose first {@link #MARK} ends in another byte. */
    private static byte[] damaged(byte[] data) {
        byte[] mark = ByteBuffer.allocate(8).putLong(MARK).array();
        for (int i = 0; i + mark.length <= data.length; i++) {
            if (java.util.Arrays.equals(data, i, i + mark.length, mark, 0, mark.length)) {
                byte[] copy = data.clone();
                copy[i + mark.length - 1] ^= 0x10;
                return copy;
            }
        }
        throw new AssertionError("the value " + Long.toHexString(MARK) + " is not in the data");
    }
}
