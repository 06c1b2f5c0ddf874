package io.onceflow.api.state;

import io.onceflow.api.serialization.Serializers;
import io.onceflow.api.serialization.TypeSerializer;
import java.util.Objects;

/** Describes a {@link ValueState}. */
public final class ValueStateDescriptor<T> extends StateDescriptor<ValueState<T>, T> {

    private final TypeSerializer<T> serializer;

    public ValueStateDescriptor(String name, TypeSerializer<T> serializer) {
        super(name);
        this.serializer = Objects.requireNonNull(serializer, "serializer");
    }

    public ValueStateDescriptor(String name, Class<T> type) {
        this(name, Serializers.forClass(type));
    }

    public TypeSerializer<T> getSerializer() {
        return serializer;
    }

    @Override
    public Kind getKind() {
        return Kind.VALUE;
    }
}
