package io.onceflow.runtime.state;

import io.onceflow.api.serialization.TypeSerializer;
import io.onceflow.api.serialization.VersionedSerializer;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;

/** Stores a value written by a {@link VersionedSerializer} together with the version it was written with. */
public final class VersionedTypeSerializer<T> implements TypeSerializer<T> {

    private final VersionedSerializer<T> serializer;

    public VersionedTypeSerializer(VersionedSerializer<T> serializer) {
        this.serializer = serializer;
    }

    @Override
    public void serialize(T value, DataOutput out) throws IOException {
        out.writeInt(serializer.getVersion());
        Bytes.writeBytes(out, serializer.serialize(value));
    }

    @Override
    public T deserialize(DataInput in) throws IOException {
        int version = in.readInt();
        return serializer.deserialize(version, Bytes.readBytes(in));
    }
}
