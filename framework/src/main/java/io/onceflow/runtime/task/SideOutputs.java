package io.onceflow.runtime.task;

import io.onceflow.api.OutputTag;

/** Where an operator's side-output records go: the task's record writers for that operator and tag. */
@FunctionalInterface
public interface SideOutputs {

    /** Drops everything: for operators whose side outputs nobody reads. */
    SideOutputs NONE = (tag, record) -> {
    };

    void emit(OutputTag<?> tag, Object record);
}
