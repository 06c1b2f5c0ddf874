package io.onceflow.api.state;

import io.onceflow.api.functions.ReduceFunction;
import io.onceflow.api.serialization.TypeSerializer;
import java.util.Objects;

/** Describes a {@link ReducingState}. */
public final class ReducingStateDescriptor<T> extends StateDescriptor<ReducingState<T>, T> {

    private final ReduceFunction<T> reduceFunction;
    private final TypeSerializer<T> serializer;

    public ReducingStateDescriptor(String name, ReduceFunction<T> reduceFunction, TypeSerializer<T> serializer) {
        super(name);
        this.reduceFunction = Objects.requireNonNull(reduceFunction, "reduceFunction");
        this.serializer = Objects.requireNonNull(serializer, "serializer");
    }

    public ReduceFunction<T> getReduceFunction() {
        return reduceFunction;
    }

    public TypeSerializer<T> getSerializer() {
        return serializer;
    }

    @Override
    public Kind getKind() {
        return Kind.REDUCING;
    }
}
