package io.onceflow.runtime.storage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.JobExecutionException;
import io.onceflow.api.RestartStrategies;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.runtime.state.KeyGroupRange;
import io.onceflow.testing.CommittedStore;
import io.onceflow.testing.RunningCount;
import io.onceflow.testing.SequenceSource;
import io.onceflow.testing.TransactionalTestSink;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What is durable when: the directory entries of a new checkpoint are fsynced up to the job directory,
 * and a failed directory fsync fails the checkpoint instead of being ignored.
 */
class FileSystemCheckpointStorageTest {

    @TempDir
    Path dir;

    private static CheckpointMetadata metadata(long id, StateHandle handle) {
        return new CheckpointMetadata("job", id, 0, Map.of("op", new CheckpointMetadata.OperatorState("op", 1, 128,
                List.of(new CheckpointMetadata.SubtaskState(0, KeyGroupRange.EMPTY, handle)))));
    }

    @Test
    void directoryEntriesAreSyncedBeforeAndAfterTheMetadataRename() throws Exception {
        List<String> events = new CopyOnWriteArrayList<>();
        FileSystemCheckpointStorage storage = new FileSystemCheckpointStorage(dir, d -> {
            events.add("sync " + dir.relativize(d) + (Files.exists(d.resolve("_metadata")) ? " (metadata present)" : ""));
            FileSystemCheckpointStorage.DirectorySync.FSYNC.sync(d);
        });
        JobCheckpointStore store = storage.forJob("job");
        store.checkWritable();
        assertEquals(List.of("sync "), events, "a new job directory's entry is synced in its parent");
        events.clear();

        store.initCheckpoint(7);
        assertEquals(List.of("sync job"), events, "the reserved chk-7 entry is durable in the job directory");
        StateHandle handle = store.writeState(7, "op-0", new byte[100_000]);
        store.commitMetadata(metadata(7, handle));
        assertEquals(List.of("sync job", "sync job/chk-7", "sync job/chk-7 (metadata present)"), events,
                "the state files' entries before the rename, the metadata's entry after it");
        assertEquals(7, store.loadLatestCompleted().orElseThrow().checkpointId());
        assertEquals(List.of(7L), store.completedCheckpointIds());
    }

    @Test
    void sharedFilesAreDeletedOnlyWhenNoRetainedCheckpointRefersToThem() throws Exception {
        JobCheckpointStore store = new FileSystemCheckpointStorage(dir).forJob("job");
        store.checkWritable();
        Path local = Files.writeString(dir.resolve("local.sst"), "sst bytes");
        StateHandle.InFile a = store.uploadShared("a.sst", local);
        StateHandle.InFile b = store.uploadShared("b.sst", local);
        StateHandle.InFile c = store.uploadShared("c.sst", local);
        StateHandle.InFile orphan = store.uploadShared("orphan.sst", local); // uploaded by a checkpoint that failed
        for (long id = 1; id <= 2; id++) {
            store.initCheckpoint(id);
            List<StateHandle.InFile> refs = id == 1 ? List.of(a, b) : List.of(b, c);
            store.commitMetadata(new CheckpointMetadata("job", id, 0, Map.of("op", new CheckpointMetadata.OperatorState(
                    "op", 1, 128, List.of(new CheckpointMetadata.SubtaskState(0, KeyGroupRange.EMPTY,
                            new StateHandle.Inline(new byte[1]), refs, 0))))));
        }
        store.discardAllExcept(java.util.Set.of(2L));
        assertFalse(Files.exists(dir.resolve("job").resolve(a.path())), "only checkpoint 1 referred to a");
        for (StateHandle.InFile kept : List.of(b, c, orphan)) {
            assertTrue(Files.exists(dir.resolve("job").resolve(kept.path())), kept + " stays");
        }
        store.discardUnreferencedSharedState();
        assertFalse(Files.exists(dir.resolve("job").resolve(orphan.path())), "at a start, orphans go");
        assertTrue(Files.exists(dir.resolve("job").resolve(b.path())) && Files.exists(dir.resolve("job").resolve(c.path())));
        Path back = dir.resolve("back.sst");
        store.downloadShared(c, back);
        assertEquals("sst bytes", Files.readString(back));
    }

    @Test
    void aFailedDirectorySyncFailsTheMetadataCommit() throws Exception {
        FileSystemCheckpointStorage storage = new FileSystemCheckpointStorage(dir, d -> {
            if (d.getFileName().toString().startsWith("chk-")) {
                throw new IOException("injected: fsync of " + d + " failed");
            }
        });
        JobCheckpointStore store = storage.forJob("job");
        store.checkWritable();
        store.initCheckpoint(1);
        IOException e = assertThrows(IOException.class, () -> store.commitMetadata(metadata(1, new StateHandle.Inline(new byte[1]))));
        assertTrue(e.getMessage().contains("injected: fsync of"), e.getMessage());
        assertTrue(store.completedCheckpointIds().isEmpty(), "the metadata was never renamed into place");
    }

    @Test
    void aJobWhoseCheckpointDirectoryCannotBeSyncedFailsInsteadOfPretending() {
        FileSystemCheckpointStorage storage = new FileSystemCheckpointStorage(dir, d -> {
            if (d.getFileName().toString().startsWith("chk-")) {
                throw new IOException("injected: fsync of " + d + " failed");
            }
        });
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(2);
        env.enableCheckpointing(Duration.ofMillis(50));
        env.getCheckpointConfig().setCheckpointStorage(storage);
        env.setRestartStrategy(RestartStrategies.noRestart());
        env.fromSource(SequenceSource.bounded(2, 100_000, 10).throttled(5_000), "sequence").uid("source")
                .keyBy(w -> w)
                .process(new RunningCount()).uid("count")
                .sinkTo(new TransactionalTestSink(CommittedStore.inMemory())).uid("sink");
        JobExecutionException e = assertThrows(JobExecutionException.class, () -> env.execute("unsyncable"));
        assertTrue(e.getMessage().contains("its metadata could not be written") && e.getMessage().contains("injected"),
                e.getMessage());
        assertFalse(Files.exists(dir.resolve("unsyncable/chk-1/_metadata")), "the failed checkpoint is not left behind");
    }

    @Test
    void sinkFilesAndCommitMarksAreKeptBesideTheCheckpoints() throws Exception {
        Files.createDirectories(dir.resolve("scratch"));
        SinkFilesContract.check(new FileSystemCheckpointStorage(dir.resolve("marks")).forJob("job"),
                () -> new FileSystemCheckpointStorage(dir.resolve("marks")).forJob("job"), dir.resolve("scratch"));
        try (java.util.stream.Stream<Path> shared = Files.list(dir.resolve("marks/job/shared"))) {
            List<String> names = shared.map(p -> p.getFileName().toString()).sorted().toList();
            assertEquals(3, names.size(), names.toString());
            assertTrue(names.stream().noneMatch(n -> n.endsWith(".inprogress")), "a failed write leaves no partial file: "
                    + names);
        }
    }

    @Test
    void inMemorySinkFilesAndCommitMarksWorkTheSameWay() throws Exception {
        Files.createDirectories(dir.resolve("scratch"));
        MemoryCheckpointStorage memory = new MemoryCheckpointStorage();
        SinkFilesContract.check(memory.forJob("job"), () -> memory.forJob("job"), dir.resolve("scratch"));
    }
}
