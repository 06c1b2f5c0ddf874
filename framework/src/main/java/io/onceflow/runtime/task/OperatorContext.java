package io.onceflow.runtime.task;

import io.onceflow.api.functions.RuntimeContext;
import io.onceflow.api.sink.SinkInitContext;
import io.onceflow.api.source.SourceReaderContext;
import io.onceflow.api.state.ListState;
import io.onceflow.api.state.ListStateDescriptor;
import io.onceflow.api.state.MapState;
import io.onceflow.api.state.MapStateDescriptor;
import io.onceflow.api.state.OperatorStateStore;
import io.onceflow.api.state.ReducingState;
import io.onceflow.api.state.ReducingStateDescriptor;
import io.onceflow.api.state.StateDescriptor;
import io.onceflow.api.state.ValueState;
import io.onceflow.api.state.ValueStateDescriptor;
import io.onceflow.runtime.state.HeapKeyedStateBackend;
import io.onceflow.runtime.state.OperatorStateBackend;
import io.onceflow.testing.FaultInjector;
import java.util.OptionalLong;

/** What the runtime hands an operator of one subtask. */
public final class OperatorContext<OUT> implements RuntimeContext, SourceReaderContext, SinkInitContext {

    private final String jobName;
    private final String uid;
    private final int subtaskIndex;
    private final int parallelism;
    private final int attempt;
    private final Output<OUT> output;
    private final OperatorStateBackend operatorState;
    private final HeapKeyedStateBackend keyedState;
    private final OptionalLong restoredCheckpointId;
    private final FaultInjector faults;

    public OperatorContext(String jobName, String uid, int subtaskIndex, int parallelism, int attempt,
                           Output<OUT> output, OperatorStateBackend operatorState, HeapKeyedStateBackend keyedState,
                           OptionalLong restoredCheckpointId, FaultInjector faults) {
        this.jobName = jobName;
        this.uid = uid;
        this.subtaskIndex = subtaskIndex;
        this.parallelism = parallelism;
        this.attempt = attempt;
        this.output = output;
        this.operatorState = operatorState;
        this.keyedState = keyedState;
        this.restoredCheckpointId = restoredCheckpointId;
        this.faults = faults;
    }

    public Output<OUT> output() {
        return output;
    }

    public OperatorStateBackend operatorState() {
        return operatorState;
    }

    /** Null unless the operator reads a keyed stream. */
    public HeapKeyedStateBackend keyedState() {
        return keyedState;
    }

    public OptionalLong restoredCheckpointId() {
        return restoredCheckpointId;
    }

    @Override
    public OptionalLong getRestoredCheckpointId() {
        return restoredCheckpointId;
    }

    @Override
    public int getIndexOfSubtask() {
        return subtaskIndex;
    }

    @Override
    public int getParallelism() {
        return parallelism;
    }

    public FaultInjector faults() {
        return faults;
    }

    @Override
    public String getJobName() {
        return jobName;
    }

    @Override
    public String getOperatorUid() {
        return uid;
    }

    @Override
    public int getIndexOfThisSubtask() {
        return subtaskIndex;
    }

    @Override
    public int getNumberOfParallelSubtasks() {
        return parallelism;
    }

    @Override
    public int getAttemptNumber() {
        return attempt;
    }

    private HeapKeyedStateBackend keyed(StateDescriptor<?, ?> d) {
        if (keyedState == null) {
            throw new IllegalStateException("Operator '" + uid + "' asked for keyed " + d
                    + ", but keyed state is only available on a keyed stream: call keyBy(...) before this "
                    + "operator, or use getOperatorStateStore() for non-keyed state");
        }
        return keyedState;
    }

    @Override
    public <T> ValueState<T> getState(ValueStateDescriptor<T> descriptor) {
        return keyed(descriptor).getState(descriptor);
    }

    @Override
    public <T> ListState<T> getListState(ListStateDescriptor<T> descriptor) {
        return keyed(descriptor).getListState(descriptor);
    }

    @Override
    public <UK, UV> MapState<UK, UV> getMapState(MapStateDescriptor<UK, UV> descriptor) {
        return keyed(descriptor).getMapState(descriptor);
    }

    @Override
    public <T> ReducingState<T> getReducingState(ReducingStateDescriptor<T> descriptor) {
        return keyed(descriptor).getReducingState(descriptor);
    }

    @Override
    public OperatorStateStore getOperatorStateStore() {
        return operatorState;
    }
}
