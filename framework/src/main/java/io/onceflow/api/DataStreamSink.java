package io.onceflow.api;

import io.onceflow.runtime.graph.Transformation;
import java.util.Objects;

/** The sink operator at the end of a stream; configure its uid, name and parallelism. */
public final class DataStreamSink<T> {

    private final Transformation transformation;

    DataStreamSink(Transformation transformation) {
        this.transformation = transformation;
    }

    public DataStreamSink<T> uid(String uid) {
        Objects.requireNonNull(uid, "uid");
        if (uid.isBlank()) {
            throw new IllegalArgumentException("A uid must not be blank");
        }
        transformation.setUid(uid);
        return this;
    }

    public DataStreamSink<T> name(String name) {
        transformation.setName(StreamEnvironment.name(name));
        return this;
    }

    public DataStreamSink<T> setParallelism(int parallelism) {
        if (parallelism < 1) {
            throw new IllegalArgumentException("Parallelism must be at least 1, was " + parallelism);
        }
        transformation.setParallelism(parallelism);
        return this;
    }
}
