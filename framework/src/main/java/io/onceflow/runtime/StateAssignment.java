package io.onceflow.runtime;

import io.onceflow.runtime.state.KeyGroupRange;
import io.onceflow.runtime.state.RestoredKeyedState;
import io.onceflow.runtime.state.SubtaskStateFormat;
import io.onceflow.runtime.storage.CheckpointMetadata;
import io.onceflow.runtime.storage.JobCheckpointStore;
import io.onceflow.runtime.storage.StateHandle;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Hands the state of a completed checkpoint to the subtasks of a new attempt. At the same parallelism
 * subtask {@code i} gets exactly what subtask {@code i} wrote; at another parallelism keyed state is
 * split by key-group range and every operator list is dealt out evenly (element {@code k} of the
 * concatenated lists to subtask {@code k % parallelism}).
 */
final class StateAssignment {

    /** What one subtask of one operator gets. {@code found} says whether the checkpoint knew the operator. */
    record Restored(boolean found, Map<String, List<byte[]>> operatorLists, Map<String, RestoredKeyedState> keyed) {
    }

    private final CheckpointMetadata metadata;
    private final JobCheckpointStore store;
    private final int maxParallelism;
    private final Map<StateHandle, byte[]> cache = new HashMap<>();

    StateAssignment(CheckpointMetadata metadata, JobCheckpointStore store, int maxParallelism) {
        this.metadata = metadata;
        this.store = store;
        this.maxParallelism = maxParallelism;
    }

    Restored assign(String uid, int subtask, int parallelism, KeyGroupRange keyGroups) throws IOException {
        Map<String, List<byte[]>> lists = new LinkedHashMap<>();
        Map<String, RestoredKeyedState> keyed = new LinkedHashMap<>();
        if (metadata == null) {
            return new Restored(false, lists, keyed);
        }
        CheckpointMetadata.OperatorState op = metadata.operators().get(uid);
        if (op == null) {
            return new Restored(false, lists, keyed);
        }
        KeyGroupRange range = keyGroups != null ? keyGroups : KeyGroupRange.EMPTY;
        if (op.parallelism() == parallelism) {
            for (CheckpointMetadata.SubtaskState s : op.subtasks()) {
                if (s.subtaskIndex() == subtask && s.handle() != null) {
                    read(op, s, lists, range, keyed);
                }
            }
            return new Restored(true, lists, keyed);
        }
        Map<String, List<byte[]>> all = new LinkedHashMap<>();
        for (CheckpointMetadata.SubtaskState s : op.subtasks()) {
            if (s.handle() != null) {
                read(op, s, all, range, keyed);
            }
        }
        for (Map.Entry<String, List<byte[]>> e : all.entrySet()) {
            List<byte[]> mine = new ArrayList<>();
            List<byte[]> elements = e.getValue();
            for (int k = subtask; k < elements.size(); k += parallelism) {
                mine.add(elements.get(k));
            }
            lists.put(e.getKey(), mine);
        }
        return new Restored(true, lists, keyed);
    }

    private void read(CheckpointMetadata.OperatorState op, CheckpointMetadata.SubtaskState s,
                      Map<String, List<byte[]>> lists, KeyGroupRange range, Map<String, RestoredKeyedState> keyed)
            throws IOException {
        byte[] bytes = cache.get(s.handle());
        if (bytes == null) {
            bytes = store.readState(s.handle());
            cache.put(s.handle(), bytes);
        }
        String what = "operator '" + op.uid() + "' subtask " + s.subtaskIndex() + " in checkpoint " + metadata.checkpointId();
        int writtenMax;
        try {
            writtenMax = SubtaskStateFormat.read(bytes, what, lists, range, keyed);
        } catch (IOException e) {
            throw new JobConfigurationException("Cannot restore " + what + " from " + store.describe() + ": "
                    + e.getMessage(), e);
        }
        if (writtenMax >= 0 && writtenMax != maxParallelism) {
            throw new JobConfigurationException("Cannot restore keyed state of " + what + ": it was written with max "
                    + "parallelism " + writtenMax + " but the job now has " + maxParallelism
                    + "; the max parallelism of a job must not change between runs");
        }
    }
}
