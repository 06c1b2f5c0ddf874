package io.onceflow.api.state;

import io.onceflow.api.serialization.Serializers;
import io.onceflow.api.serialization.TypeSerializer;
import java.util.Objects;

/** Describes a {@link ListState}, keyed or operator. */
public final class ListStateDescriptor<T> extends StateDescriptor<ListState<T>, T> {

    private final TypeSerializer<T> elementSerializer;

    public ListStateDescriptor(String name, TypeSerializer<T> elementSerializer) {
        super(name);
        this.elementSerializer = Objects.requireNonNull(elementSerializer, "elementSerializer");
    }

    public ListStateDescriptor(String name, Class<T> type) {
        this(name, Serializers.forClass(type));
    }

    public TypeSerializer<T> getElementSerializer() {
        return elementSerializer;
    }

    @Override
    public Kind getKind() {
        return Kind.LIST;
    }
}
