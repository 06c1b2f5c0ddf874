package io.onceflow.api.state;

/**
 * Non-keyed state of one parallel subtask. Each list is checkpointed as a whole; when the job is
 * restored at another parallelism the elements of all subtasks' lists are dealt out evenly.
 */
public interface OperatorStateStore {

    <T> ListState<T> getListState(ListStateDescriptor<T> descriptor) throws Exception;
}
