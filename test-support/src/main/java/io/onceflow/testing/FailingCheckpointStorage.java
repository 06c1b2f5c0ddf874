package io.onceflow.testing;

import io.onceflow.runtime.storage.CheckpointMetadata;
import io.onceflow.runtime.storage.CheckpointStorage;
import io.onceflow.runtime.storage.JobCheckpointStore;
import io.onceflow.runtime.storage.StateHandle;
import java.io.IOException;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongPredicate;

/**
 * Checkpoint storage that fails on purpose, for tests of what a job does when its checkpoints cannot
 * be written: it wraps a real storage and throws {@code IOException("No space left on device")} from
 * the state writes and/or metadata commits of the checkpoints a predicate selects, or makes their state
 * writes slow. Reads always work.
 *
 * <pre>{@code
 * env.getCheckpointConfig().setCheckpointStorage(
 *         FailingCheckpointStorage.wrap(new FileSystemCheckpointStorage(dir)).failMetadataOf(id -> id == 3));
 * }</pre>
 */
public final class FailingCheckpointStorage implements CheckpointStorage {

    private final CheckpointStorage inner;
    private volatile LongPredicate failStateOf = id -> false;
    private volatile LongPredicate failMetadataOf = id -> false;
    private volatile LongPredicate slowStateOf = id -> false;
    private volatile long slowMillis;
    private volatile String slowUid;
    private final AtomicInteger injected = new AtomicInteger();

    private FailingCheckpointStorage(CheckpointStorage inner) {
        this.inner = inner;
    }

    public static FailingCheckpointStorage wrap(CheckpointStorage inner) {
        return new FailingCheckpointStorage(inner);
    }

    /** Closes the wrapped storage. */
    @Override
    public void close() {
        inner.close();
    }

    /** State writes of the checkpoints {@code ids} matches fail (a subtask declines the checkpoint). */
    public FailingCheckpointStorage failStateOf(LongPredicate ids) {
        this.failStateOf = ids;
        return this;
    }

    /** Metadata commits of the checkpoints {@code ids} matches fail (every task acknowledged; the coordinator fails it). */
    public FailingCheckpointStorage failMetadataOf(LongPredicate ids) {
        this.failMetadataOf = ids;
        return this;
    }

    /**
     * State writes of the checkpoints {@code ids} matches take {@code delay} longer (a slow or congested
     * device): each subtask's write of such a checkpoint first waits.
     */
    public FailingCheckpointStorage slowStateOf(LongPredicate ids, java.time.Duration delay) {
        return slowStateOf(null, ids, delay);
    }

    /** As {@link #slowStateOf(LongPredicate, java.time.Duration)}, for the operator {@code uid}'s state only. */
    public FailingCheckpointStorage slowStateOf(String uid, LongPredicate ids, java.time.Duration delay) {
        this.slowMillis = delay.toMillis();
        this.slowUid = uid;
        this.slowStateOf = ids;
        return this;
    }

    private void maybeSlow(long checkpointId, String name) throws IOException {
        String uid = slowUid;
        if ((uid == null || name.startsWith(uid + "-")) && slowStateOf.test(checkpointId)) {
            try {
                Thread.sleep(slowMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted while writing state of checkpoint " + checkpointId);
            }
        }
    }

    /** How many writes failed on purpose so far. */
    public int injectedFailures() {
        return injected.get();
    }

    @Override
    public JobCheckpointStore forJob(String jobName) {
        JobCheckpointStore store = inner.forJob(jobName);
        return new JobCheckpointStore() {
            @Override
            public String describe() {
                return store.describe() + " (failing on purpose)";
            }

            @Override
            public void checkWritable() {
                store.checkWritable();
            }

            @Override
            public io.onceflow.runtime.storage.Ownership acquireOwnership(boolean takeOver) throws IOException {
                return store.acquireOwnership(takeOver);
            }

            @Override
            public Optional<CheckpointMetadata> loadLatestCompleted() throws IOException {
                return store.loadLatestCompleted();
            }

            @Override
            public List<Long> completedCheckpointIds() throws IOException {
                return store.completedCheckpointIds();
            }

            @Override
            public long highestCheckpointId() throws IOException {
                return store.highestCheckpointId();
            }

            @Override
            public void initCheckpoint(long checkpointId) throws IOException {
                store.initCheckpoint(checkpointId);
            }

            @Override
            public StateHandle writeState(long checkpointId, String name, byte[] data) throws IOException {
                maybeSlow(checkpointId, name);
                if (failStateOf.test(checkpointId)) {
                    injected.incrementAndGet();
                    throw new IOException("No space left on device (injected, writing state " + name + " of checkpoint "
                            + checkpointId + ")");
                }
                return store.writeState(checkpointId, name, data);
            }

            @Override
            public byte[] readState(StateHandle handle) throws IOException {
                return store.readState(handle);
            }

            @Override
            public io.onceflow.runtime.storage.CheckpointStateOutput openStateOutput(long checkpointId, String name)
                    throws IOException {
                maybeSlow(checkpointId, name);
                io.onceflow.runtime.storage.CheckpointStateOutput out = store.openStateOutput(checkpointId, name);
                if (!failStateOf.test(checkpointId)) {
                    return out;
                }
                // the device fills up while the state is written: the close fails
                return new io.onceflow.runtime.storage.CheckpointStateOutput() {
                    @Override
                    public void write(int b) throws IOException {
                        out.write(b);
                    }

                    @Override
                    public void write(byte[] b, int off, int len) throws IOException {
                        out.write(b, off, len);
                    }

                    @Override
                    public StateHandle closeAndGetHandle() throws IOException {
                        out.discard();
                        injected.incrementAndGet();
                        throw new IOException("No space left on device (injected, writing state " + name
                                + " of checkpoint " + checkpointId + ")");
                    }

                    @Override
                    public void discard() {
                        out.discard();
                    }
                };
            }

            @Override
            public java.io.InputStream openState(StateHandle handle) throws IOException {
                return store.openState(handle);
            }

            @Override
            public void commitMetadata(CheckpointMetadata metadata) throws IOException {
                if (failMetadataOf.test(metadata.checkpointId())) {
                    injected.incrementAndGet();
                    throw new IOException("No space left on device (injected, writing the metadata of checkpoint "
                            + metadata.checkpointId() + ")");
                }
                store.commitMetadata(metadata);
            }

            @Override
            public StateHandle.InFile uploadShared(String name, java.nio.file.Path localFile) throws IOException {
                return store.uploadShared(name, localFile);
            }

            @Override
            public StateHandle.InFile writeShared(String name, SharedFileBody body) throws IOException {
                return store.writeShared(name, body);
            }

            @Override
            public void downloadShared(StateHandle.InFile handle, java.nio.file.Path localFile) throws IOException {
                store.downloadShared(handle, localFile);
            }

            @Override
            public void discardUnreferencedSharedState() throws IOException {
                store.discardUnreferencedSharedState();
            }

            @Override
            public void discard(long checkpointId) throws IOException {
                store.discard(checkpointId);
            }

            @Override
            public void discardAllExcept(Set<Long> keep) throws IOException {
                store.discardAllExcept(keep);
            }
        };
    }
}
