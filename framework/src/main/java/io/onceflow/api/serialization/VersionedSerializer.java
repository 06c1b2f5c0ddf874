package io.onceflow.api.serialization;

import java.io.IOException;

/**
 * Serializer for objects that go into a checkpoint and must still be readable after the program
 * changes: source splits, sink committables, sink writer state. Every stored form carries the
 * version it was written with; {@link #deserialize} receives that version and must either read it
 * or fail with a message naming the version it cannot read.
 *
 * @param <T> the type written
 */
public interface VersionedSerializer<T> {

    /** The version {@link #serialize} writes now. */
    int getVersion();

    byte[] serialize(T value) throws IOException;

    T deserialize(int version, byte[] serialized) throws IOException;
}
