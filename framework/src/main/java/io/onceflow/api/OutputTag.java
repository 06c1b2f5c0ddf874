package io.onceflow.api;

import java.io.Serializable;
import java.util.Objects;

/**
 * Names a side output: a second stream an operator can emit records to besides its main output, such
 * as records it could not handle. Emit with {@code Collector.output(tag, value)} (or
 * {@code ReaderOutput.output} in a source), read with {@link DataStream#getSideOutput(OutputTag)}.
 * Two tags are the same side output when their ids are equal.
 *
 * @param <T> the records of the side output
 */
public final class OutputTag<T> implements Serializable {

    private static final long serialVersionUID = 1L;
    private final String id;

    public OutputTag(String id) {
        Objects.requireNonNull(id, "id");
        if (id.isBlank()) {
            throw new IllegalArgumentException("A side output's id must not be blank");
        }
        this.id = id;
    }

    public String getId() {
        return id;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof OutputTag<?> other && id.equals(other.id);
    }

    @Override
    public int hashCode() {
        return id.hashCode();
    }

    @Override
    public String toString() {
        return "OutputTag(" + id + ")";
    }
}
