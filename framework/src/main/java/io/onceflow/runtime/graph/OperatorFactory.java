package io.onceflow.runtime.graph;

import io.onceflow.runtime.task.StreamOperator;

/** Creates a fresh operator instance for one subtask of one job attempt. */
@FunctionalInterface
public interface OperatorFactory {
    StreamOperator<?, ?> create();
}
