package io.onceflow.api.state;

import java.util.Objects;

/**
 * Names a piece of state and says how to write it into a checkpoint. The name is the identity of
 * the state across restarts: keep it stable.
 */
public abstract sealed class StateDescriptor<S, T>
        permits ValueStateDescriptor, ListStateDescriptor, MapStateDescriptor, ReducingStateDescriptor {

    /** What kind of state a descriptor creates; stored in checkpoints to catch mismatches on restore. */
    public enum Kind { VALUE, LIST, MAP, REDUCING }

    private final String name;

    StateDescriptor(String name) {
        Objects.requireNonNull(name, "state name");
        if (name.isBlank()) {
            throw new IllegalArgumentException("A state name must not be blank");
        }
        if (name.startsWith("__")) {
            throw new IllegalArgumentException("State name '" + name
                    + "' starts with '__', which is reserved for Onceflow's own state: choose another name");
        }
        this.name = name;
    }

    public String getName() {
        return name;
    }

    public abstract Kind getKind();

    @Override
    public String toString() {
        return getKind() + " state '" + name + "'";
    }
}
