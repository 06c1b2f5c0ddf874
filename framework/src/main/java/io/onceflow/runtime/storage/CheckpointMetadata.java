package io.onceflow.runtime.storage;

import io.onceflow.runtime.state.KeyGroupRange;
import java.util.List;
import java.util.Map;

/**
 * What a completed checkpoint consists of: for each operator (by uid) the state handle of each of
 * its subtasks. A checkpoint exists only once this is durably written.
 */
public record CheckpointMetadata(String jobName, long checkpointId, long timestamp,
                                 Map<String, OperatorState> operators) {

    /** The full size of the checkpoint: every subtask's own state and the shared files it refers to. */
    public long totalStateSize() {
        long size = 0;
        for (OperatorState op : operators.values()) {
            for (SubtaskState s : op.subtasks()) {
                if (s.handle() != null) {
                    size += s.handle().size();
                }
                for (StateHandle.InFile f : s.sharedFiles()) {
                    size += f.size();
                }
            }
        }
        return size;
    }

    /** What this checkpoint wrote itself: its subtasks' own state and the shared files uploaded for it. */
    public long incrementalStateSize() {
        long size = 0;
        for (OperatorState op : operators.values()) {
            for (SubtaskState s : op.subtasks()) {
                if (s.handle() != null) {
                    size += s.handle().size();
                }
                size += s.uploadedSharedBytes();
            }
        }
        return size;
    }

    /** The paths of every shared file the checkpoint refers to. */
    public java.util.Set<String> sharedPaths() {
        java.util.Set<String> paths = new java.util.HashSet<>();
        for (OperatorState op : operators.values()) {
            for (SubtaskState s : op.subtasks()) {
                s.sharedFiles().forEach(f -> paths.add(f.path()));
            }
        }
        return paths;
    }

    /** The state of one operator: its parallelism at checkpoint time and its subtasks' handles. */
    public record OperatorState(String uid, int parallelism, int maxParallelism, List<SubtaskState> subtasks) {
    }

    /**
     * One subtask's state; {@code handle} is null when the subtask had no state. {@code sharedFiles} are
     * files in the job's shared directory the state refers to (a RocksDB incremental checkpoint's SST
     * files), possibly written for an earlier checkpoint; they are deleted only when no retained
     * checkpoint refers to them. {@code uploadedSharedBytes} is how much of them this checkpoint
     * uploaded (reported, not stored).
     */
    public record SubtaskState(int subtaskIndex, KeyGroupRange keyGroups, StateHandle handle,
                               List<StateHandle.InFile> sharedFiles, long uploadedSharedBytes) {
        public SubtaskState {
            sharedFiles = List.copyOf(sharedFiles);
        }

        public SubtaskState(int subtaskIndex, KeyGroupRange keyGroups, StateHandle handle) {
            this(subtaskIndex, keyGroups, handle, List.of(), 0);
        }
    }
}
