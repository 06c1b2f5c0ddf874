package io.onceflow.api.serialization;

import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;

/**
 * Writes and reads values of one type in a compact binary form. Used for keys and state values;
 * never Java serialization, so a checkpoint can be read by a later version of the program.
 *
 * <p>Implementations must be stateless and thread-safe: one instance may be shared by all subtasks.
 * Serializable so that functions holding one can be copied per subtask.
 *
 * @param <T> the type written
 */
public interface TypeSerializer<T> extends java.io.Serializable {

    void serialize(T value, DataOutput out) throws IOException;

    T deserialize(DataInput in) throws IOException;
}
