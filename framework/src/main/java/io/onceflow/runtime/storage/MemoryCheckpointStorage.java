package io.onceflow.runtime.storage;

import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Checkpoints in memory ({@code memory:}): for tests, and for jobs whose output may be repeated. They
 * survive a restart of a job within this JVM (for the same storage object), not a restart of the
 * process, so an EXACTLY_ONCE job only gets this storage when it asks for it explicitly.
 */
public final class MemoryCheckpointStorage implements CheckpointStorage {

    private final Map<String, Store> jobs = new ConcurrentHashMap<>();

    @Override
    public JobCheckpointStore forJob(String jobName) {
        return jobs.computeIfAbsent(jobName, Store::new);
    }

    private static final class Store implements JobCheckpointStore {
        private final String jobName;
        private final TreeMap<Long, CheckpointMetadata> completed = new TreeMap<>();
        private final Map<String, byte[]> shared = new java.util.HashMap<>();
        private final Map<String, Long> commitMarks = new java.util.HashMap<>();
        private long highest;

        Store(String jobName) {
            this.jobName = jobName;
        }

        @Override
        public String describe() {
            return "memory:" + jobName;
        }

        @Override
        public void checkWritable() {
        }

        @Override
        public synchronized Optional<CheckpointMetadata> loadLatestCompleted() {
            return completed.isEmpty() ? Optional.empty() : Optional.of(completed.lastEntry().getValue());
        }

        private Ownership owner;

        @Override
        public synchronized Ownership acquireOwnership(boolean takeOver) {
            if (owner != null && !takeOver) {
                throw new OwnershipLostException("Job '" + jobName + "' is already running on this in-memory checkpoint "
                        + "storage: cancel or stop it before starting it again");
            }
            Ownership mine = new Ownership() {
                @Override
                public void verify() {
                    synchronized (Store.this) {
                        if (owner != this) {
                            throw new OwnershipLostException("Another run of job '" + jobName + "' took over its "
                                    + "in-memory checkpoints");
                        }
                    }
                }

                @Override
                public void release() {
                    synchronized (Store.this) {
                        if (owner == this) {
                            owner = null;
                        }
                    }
                }
            };
            owner = mine;
            return mine;
        }

        @Override
        public synchronized java.util.List<Long> completedCheckpointIds() {
            return new java.util.ArrayList<>(completed.keySet());
        }

        @Override
        public synchronized long highestCheckpointId() {
            return highest;
        }

        @Override
        public synchronized void initCheckpoint(long checkpointId) {
            highest = Math.max(highest, checkpointId);
        }

        @Override
        public synchronized StateHandle writeState(long checkpointId, String name, byte[] data) {
            highest = Math.max(highest, checkpointId);
            return new StateHandle.Inline(data);
        }

        @Override
        public byte[] readState(StateHandle handle) {
            return ((StateHandle.Inline) handle).data();
        }

        @Override
        public synchronized void commitMetadata(CheckpointMetadata metadata) {
            highest = Math.max(highest, metadata.checkpointId());
            completed.put(metadata.checkpointId(), metadata);
        }

        @Override
        public synchronized void discard(long checkpointId) {
            completed.remove(checkpointId);
        }

        @Override
        public synchronized StateHandle.InFile uploadShared(String name, java.nio.file.Path localFile)
                throws java.io.IOException {
            byte[] data = java.nio.file.Files.readAllBytes(localFile);
            shared.put("shared/" + name, data);
            return new StateHandle.InFile("shared/" + name, data.length);
        }

        @Override
        public synchronized java.io.InputStream openState(StateHandle handle) throws java.io.IOException {
            if (handle instanceof StateHandle.InFile file) {
                byte[] data = shared.get(file.path());
                if (data == null) {
                    throw new java.io.IOException("Shared state " + file.path() + " of job '" + jobName + "' is gone");
                }
                return new java.io.ByteArrayInputStream(data);
            }
            return new java.io.ByteArrayInputStream(readState(handle));
        }

        @Override
        public synchronized java.util.OptionalLong readCommitMark(String name) {
            Long mark = commitMarks.get(name);
            return mark == null ? java.util.OptionalLong.empty() : java.util.OptionalLong.of(mark);
        }

        @Override
        public synchronized void writeCommitMark(String name, long checkpointId) {
            commitMarks.merge(name, checkpointId, Math::max);
        }

        @Override
        public synchronized void downloadShared(StateHandle.InFile handle, java.nio.file.Path localFile)
                throws java.io.IOException {
            byte[] data = shared.get(handle.path());
            if (data == null) {
                throw new java.io.IOException("Shared state " + handle.path() + " of job '" + jobName + "' is gone");
            }
            java.nio.file.Files.write(localFile, data);
        }

        @Override
        public synchronized void discardAllExcept(Set<Long> keep) {
            Set<String> kept = new java.util.HashSet<>();
            Set<String> dropped = new java.util.HashSet<>();
            completed.forEach((id, m) -> (keep.contains(id) ? kept : dropped).addAll(m.sharedPaths()));
            completed.keySet().retainAll(keep);
            dropped.removeAll(kept);
            shared.keySet().removeAll(dropped);
        }

        @Override
        public synchronized void discardUnreferencedSharedState() {
            Set<String> referenced = new java.util.HashSet<>();
            completed.values().forEach(m -> referenced.addAll(m.sharedPaths()));
            shared.keySet().retainAll(referenced);
        }
    }
}
