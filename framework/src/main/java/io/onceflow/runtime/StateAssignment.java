package io.onceflow.runtime;

import io.onceflow.runtime.state.KeyGroupRange;
import io.onceflow.runtime.state.KeyedEntrySink;
import io.onceflow.runtime.state.SubtaskStateFormat;
import io.onceflow.runtime.storage.CheckpointMetadata;
import io.onceflow.runtime.storage.JobCheckpointStore;
import java.io.IOException;
import java.util.ArrayList;
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

    /**
     * What one subtask of one operator gets besides its keyed state (which went to the sink). {@code found}
     * says whether the checkpoint knew the operator.
     */
    record Restored(boolean found, Map<String, List<byte[]>> operatorLists) {
    }

    private final CheckpointMetadata metadata;
    private final JobCheckpointStore store;
    private final int maxParallelism;

    StateAssignment(CheckpointMetadata metadata, JobCheckpointStore store, int maxParallelism) {
        this.metadata = metadata;
        this.store = store;
        this.maxParallelism = maxParallelism;
    }

    /**
     * @param keyed receives the keyed entries of the subtask's key groups, one by one (a backend), or
     *              null for an operator that is not keyed
     */
    Restored assign(String uid, int subtask, int parallelism, KeyGroupRange keyGroups, KeyedEntrySink keyed)
            throws IOException {
        Map<String, List<byte[]>> lists = new LinkedHashMap<>();
        if (metadata == null) {
            return new Restored(false, lists);
        }
        CheckpointMetadata.OperatorState op = metadata.operators().get(uid);
        if (op == null) {
            return new Restored(false, lists);
        }
        if (keyed == null) {
            keyed = refusingKeyedState(uid);
        }
        // an operator that is not keyed is offered every key group, so that keyed state it no longer takes is refused
        KeyGroupRange range = keyGroups != null ? keyGroups : new KeyGroupRange(0, maxParallelism - 1);
        if (op.parallelism() == parallelism) {
            for (CheckpointMetadata.SubtaskState s : op.subtasks()) {
                if (s.subtaskIndex() == subtask && s.handle() != null) {
                    read(op, s, lists, range, keyed);
                }
            }
            keyed.restoreEnded();
            return new Restored(true, lists);
        }
        Map<String, List<byte[]>> all = new LinkedHashMap<>();
        for (CheckpointMetadata.SubtaskState s : op.subtasks()) {
            if (s.handle() != null) {
                read(op, s, all, range, keyed);
            }
        }
        keyed.restoreEnded();
        for (Map.Entry<String, List<byte[]>> e : all.entrySet()) {
            List<byte[]> mine = new ArrayList<>();
            List<byte[]> elements = e.getValue();
            for (int k = subtask; k < elements.size(); k += parallelism) {
                mine.add(elements.get(k));
            }
            lists.put(e.getKey(), mine);
        }
        return new Restored(true, lists);
    }

    /**
     * Every element of operator list {@code listName} that operator {@code uid}'s subtasks wrote into the checkpoint,
     * whichever subtask wrote it, or empty when there is no checkpoint or it does not know the operator: a source's
     * splits across the job, whatever share of them a subtask gets.
     */
    List<byte[]> allElements(String uid, String listName) throws IOException {
        CheckpointMetadata.OperatorState op = metadata == null ? null : metadata.operators().get(uid);
        if (op == null) {
            return List.of();
        }
        Map<String, List<byte[]>> all = new LinkedHashMap<>();
        KeyedEntrySink keyed = refusingKeyedState(uid);
        for (CheckpointMetadata.SubtaskState s : op.subtasks()) {
            if (s.handle() != null) {
                read(op, s, all, new KeyGroupRange(0, maxParallelism - 1), keyed);
            }
        }
        return all.getOrDefault(listName, List.of());
    }

    /** For an operator that is not keyed: the keyed state of a checkpoint is refused, naming what to do. */
    private KeyedEntrySink refusingKeyedState(String uid) {
        return new KeyedEntrySink() {
            @Override
            public void state(int index, String name, io.onceflow.api.state.StateDescriptor.Kind kind) {
            }

            @Override
            public void entry(int index, int keyGroup, byte[] key, byte[] value) {
                throw new JobConfigurationException("Checkpoint " + metadata.checkpointId() + " has keyed state "
                        + "for operator '" + uid + "', which is not on a keyed stream any more: keep keyBy(...) "
                        + "before it or start fresh");
            }
        };
    }

    private void read(CheckpointMetadata.OperatorState op, CheckpointMetadata.SubtaskState s,
                      Map<String, List<byte[]>> lists, KeyGroupRange range, KeyedEntrySink keyed)
            throws IOException {
        String what = "operator '" + op.uid() + "' subtask " + s.subtaskIndex() + " in checkpoint " + metadata.checkpointId();
        int writtenMax;
        keyed.snapshotWrittenFor(s.keyGroups());
        // a snapshot that holds none of these key groups has nothing for them: its keyed part is not read
        KeyGroupRange wanted = s.keyGroups() == null || s.keyGroups().intersects(range) ? range : KeyGroupRange.EMPTY;
        io.onceflow.runtime.state.SharedFileReader shared = new io.onceflow.runtime.state.SharedFileReader() {
            @Override
            public void download(io.onceflow.runtime.storage.StateHandle.InFile handle, java.nio.file.Path localFile)
                    throws IOException {
                store.downloadShared(handle, localFile);
            }

            @Override
            public java.io.InputStream open(io.onceflow.runtime.storage.StateHandle.InFile handle) throws IOException {
                return store.openShared(handle);
            }
        };
        try (java.io.InputStream in = store.openState(s.handle())) {
            writtenMax = SubtaskStateFormat.read(in, what, lists, wanted, keyed, shared);
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
