package io.onceflow.runtime.state;

import io.onceflow.api.state.StateDescriptor;

/** The serialized entries of one named keyed state, for the key groups of one subtask. */
record RestoredKeyedState(String name, StateDescriptor.Kind kind, RestoredEntries entries) {

    RestoredKeyedState(String name, StateDescriptor.Kind kind) {
        this(name, kind, new RestoredEntries());
    }
}
