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

    public long totalStateSize() {
        long size = 0;
        for (OperatorState op : operators.values()) {
            for (SubtaskState s : op.subtasks()) {
                if (s.handle() != null) {
                    size += s.handle().size();
                }
            }
        }
        return size;
    }

    /** The state of one operator: its parallelism at checkpoint time and its subtasks' handles. */
    public record OperatorState(String uid, int parallelism, int maxParallelism, List<SubtaskState> subtasks) {
    }

    /** One subtask's state; {@code handle} is null when the subtask had no state. */
    public record SubtaskState(int subtaskIndex, KeyGroupRange keyGroups, StateHandle handle) {
    }
}
