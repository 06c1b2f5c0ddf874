package io.onceflow.runtime.fault;

/**
 * The dangerous moments of a checkpoint, where a {@link FaultInjector} can make the job fail on
 * purpose. A failure thrown at any of them fails the job attempt exactly as a crash of the task would.
 */
public enum FaultPoint {
    /** In a subtask, at a barrier, before its operators snapshot their state. */
    BEFORE_SNAPSHOT,
    /** In a subtask, after the synchronous snapshot and before the state is written and acknowledged. */
    AFTER_SNAPSHOT,
    /**
     * In the coordinator, after the checkpoint's metadata is durable (the checkpoint is complete) and
     * before any task is notified: sinks have not committed. The operator uid is null, the subtask -1.
     */
    AFTER_CHECKPOINT_COMPLETE_BEFORE_NOTIFY,
    /** In a subtask, while delivering "checkpoint complete" to its operators, before each operator. */
    DURING_NOTIFY,
    /** In a sink subtask, before its committer commits what checkpoint {@code id} covers. */
    BEFORE_COMMIT,
    /** In a sink subtask, after its committer committed, before the commit is forgotten. */
    AFTER_COMMIT
}
