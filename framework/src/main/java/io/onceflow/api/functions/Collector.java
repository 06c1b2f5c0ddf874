package io.onceflow.api.functions;

import io.onceflow.api.OutputTag;

/** Receives the records a function emits. */
@FunctionalInterface
public interface Collector<T> {
    void collect(T record);

    /**
     * Emits {@code value} to the side output {@code tag} instead of the main output; read it with
     * {@code DataStream.getSideOutput(tag)}. Records of a side output nobody reads go nowhere.
     *
     * @throws UnsupportedOperationException where the runtime offers no side outputs
     */
    default <X> void output(OutputTag<X> tag, X value) {
        throw new UnsupportedOperationException("Side outputs are not available to this collector");
    }
}
