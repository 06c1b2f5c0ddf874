package io.onceflow.runtime.storage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;
import java.util.function.Supplier;

/**
 * What every checkpoint storage must do for the shared files of sinks and state backends (uploaded from a local file,
 * or written in place) and for sinks' commit marks, checked the same way on each.
 */
final class SinkFilesContract {

    private SinkFilesContract() {
    }

    /**
     * @param store a fresh job store; {@code reopened} gives another instance on the same storage, as a
     *              restarted process would have
     */
    static void check(JobCheckpointStore store, Supplier<JobCheckpointStore> reopened, Path scratch) throws Exception {
        Path local = scratch.resolve("batch.spill");
        byte[] content = "a write-ahead batch\n".repeat(1000).getBytes(StandardCharsets.UTF_8);
        Files.write(local, content);
        StateHandle.InFile file = store.uploadShared("wal-sink/op-0-7-ab12", local);
        assertEquals(content.length, file.size());
        Files.delete(local);
        try (InputStream in = reopened.get().openState(file)) {
            assertArrayEquals(content, in.readAllBytes(), "the uploaded file reads back from another instance");
        }

        // written in place (an incremental heap checkpoint's base or delta); one that fails leaves nothing behind
        byte[] delta = "a heap delta\n".repeat(5000).getBytes(StandardCharsets.UTF_8);
        StateHandle.InFile written = store.writeShared("heap-ab12-3-delta", out -> {
            out.write(delta, 0, 7);
            out.write(delta, 7, delta.length - 7);
        });
        assertEquals(delta.length, written.size());
        try (InputStream in = reopened.get().openState(written)) {
            assertArrayEquals(delta, in.readAllBytes(), "the written file reads back from another instance");
        }
        IOException failed = assertThrows(IOException.class, () -> store.writeShared("heap-ab12-4-delta", out -> {
            out.write(delta);
            throw new IOException("No space left on device (injected)");
        }));
        assertTrue(failed.getMessage().contains("injected"), failed.toString());
        byte[] retried = "the retry\n".getBytes(StandardCharsets.UTF_8);
        StateHandle.InFile again = store.writeShared("heap-ab12-4-delta", out -> out.write(retried));
        assertEquals(retried.length, again.size());
        try (InputStream in = reopened.get().openState(again)) {
            assertArrayEquals(retried, in.readAllBytes(), "nothing of the failed write is under the name");
        }

        assertEquals(OptionalLong.empty(), store.readCommitMark("wal-sink-0"));
        store.writeCommitMark("wal-sink-0", 7);
        store.writeCommitMark("wal-sink-0", 9);
        store.writeCommitMark("wal-sink-0", 8); // lower: ignored
        store.writeCommitMark("wal-sink-1", 3);
        store.writeCommitMark("wal/sink-0", 100); // a name that differs only in a character files cannot hold
        JobCheckpointStore other = reopened.get();
        assertEquals(OptionalLong.of(9), other.readCommitMark("wal-sink-0"), "marks only grow, and are durable");
        assertEquals(OptionalLong.of(3), other.readCommitMark("wal-sink-1"));
        assertEquals(OptionalLong.of(100), other.readCommitMark("wal/sink-0"));
        assertTrue(other.readCommitMark("wal-sink").isEmpty(), "a prefix of a name is another name");
    }
}
