package io.onceflow.runtime.task;

import io.onceflow.api.functions.KeySelector;
import io.onceflow.runtime.state.KeyedStateBackend;
import io.onceflow.runtime.state.KeyGroupRange;
import io.onceflow.runtime.state.OperatorStateBackend;

/** One operator of a subtask's chain with its state backends. */
public final class ChainedOperator {

    final String uid;
    final StreamOperator<Object, Object> operator;
    final OperatorStateBackend operatorState;
    final KeyedStateBackend keyedState;
    final KeySelector<Object, Object> keySelector;
    final KeyGroupRange keyGroups;

    @SuppressWarnings("unchecked")
    public ChainedOperator(String uid, StreamOperator<?, ?> operator, OperatorStateBackend operatorState,
                           KeyedStateBackend keyedState, KeySelector<Object, Object> keySelector,
                           KeyGroupRange keyGroups) {
        this.uid = uid;
        this.operator = (StreamOperator<Object, Object>) operator;
        this.operatorState = operatorState;
        this.keyedState = keyedState;
        this.keySelector = keySelector;
        this.keyGroups = keyGroups;
    }

    public String uid() {
        return uid;
    }

    public StreamOperator<Object, Object> operator() {
        return operator;
    }
}
