package io.onceflow.api.functions;

import io.onceflow.api.state.ListState;
import io.onceflow.api.state.ListStateDescriptor;
import io.onceflow.api.state.MapState;
import io.onceflow.api.state.MapStateDescriptor;
import io.onceflow.api.state.OperatorStateStore;
import io.onceflow.api.state.ReducingState;
import io.onceflow.api.state.ReducingStateDescriptor;
import io.onceflow.api.state.ValueState;
import io.onceflow.api.state.ValueStateDescriptor;

/**
 * What a running function can see of its task: its identity and its state. The keyed-state getters
 * work only on a keyed stream (after {@code keyBy}); elsewhere they throw an
 * {@link IllegalStateException} saying so.
 */
public interface RuntimeContext {

    String getJobName();

    /** The operator's uid. */
    String getOperatorUid();

    int getIndexOfThisSubtask();

    int getNumberOfParallelSubtasks();

    /** The current restart attempt, 0 for the first run of this process. */
    int getAttemptNumber();

    <T> ValueState<T> getState(ValueStateDescriptor<T> descriptor);

    <T> ListState<T> getListState(ListStateDescriptor<T> descriptor);

    <UK, UV> MapState<UK, UV> getMapState(MapStateDescriptor<UK, UV> descriptor);

    <T> ReducingState<T> getReducingState(ReducingStateDescriptor<T> descriptor);

    /** Non-keyed state of this subtask. */
    OperatorStateStore getOperatorStateStore();

    /** Counters of this subtask, reported by {@code JobClient.getCounters()}. */
    default io.onceflow.api.metrics.MetricGroup getMetricGroup() {
        return io.onceflow.api.metrics.MetricGroup.unregistered();
    }
}
