package io.onceflow.api.state;

import io.onceflow.api.serialization.TypeSerializer;
import java.util.Objects;

/** Describes a {@link MapState}. */
public final class MapStateDescriptor<UK, UV> extends StateDescriptor<MapState<UK, UV>, UV> {

    private final TypeSerializer<UK> keySerializer;
    private final TypeSerializer<UV> valueSerializer;

    public MapStateDescriptor(String name, TypeSerializer<UK> keySerializer, TypeSerializer<UV> valueSerializer) {
        super(name);
        this.keySerializer = Objects.requireNonNull(keySerializer, "keySerializer");
        this.valueSerializer = Objects.requireNonNull(valueSerializer, "valueSerializer");
    }

    public TypeSerializer<UK> getKeySerializer() {
        return keySerializer;
    }

    public TypeSerializer<UV> getValueSerializer() {
        return valueSerializer;
    }

    @Override
    public Kind getKind() {
        return Kind.MAP;
    }
}
