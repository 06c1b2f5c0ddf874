package io.onceflow.runtime.state;

import io.onceflow.api.state.StateDescriptor;
import java.util.ArrayList;
import java.util.List;

/** The serialized entries of one named keyed state, for the key groups of one subtask. */
public record RestoredKeyedState(String name, StateDescriptor.Kind kind, List<RestoredKeyedEntry> entries) {

    public RestoredKeyedState(String name, StateDescriptor.Kind kind) {
        this(name, kind, new ArrayList<>());
    }
}
