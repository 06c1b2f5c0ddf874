package io.onceflow.runtime.storage;

import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Checkpoints in memory: for tests, and the default when no storage is configured. They survive a
 * restart of a job within this JVM (for the same storage object), not a restart of the process.
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
        public synchronized void discardAllExcept(Set<Long> keep) {
            completed.keySet().retainAll(keep);
        }
    }
}
