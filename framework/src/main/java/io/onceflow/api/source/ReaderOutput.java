package io.onceflow.api.source;

import io.onceflow.api.OutputTag;

/** Where a reader emits records. Only valid inside {@link SourceReader#pollNext}. */
@FunctionalInterface
public interface ReaderOutput<T> {
    void collect(T record);

    /**
     * Emits {@code value} to the side output {@code tag} (for example a record that could not be
     * deserialized, to a dead-letter stream), read with {@code DataStream.getSideOutput(tag)}.
     *
     * @throws UnsupportedOperationException where the runtime offers no side outputs
     */
    default <X> void output(OutputTag<X> tag, X value) {
        throw new UnsupportedOperationException("Side outputs are not available to this reader output");
    }

    /**
     * True when the task has something else to do (a checkpoint's trigger, above all): a reader emitting many
     * records in one {@link SourceReader#pollNext} call should then return after the record it just emitted, so that
     * a barrier does not wait behind the rest of a large batch. Its {@link SourceReader#snapshotState} must then
     * cover exactly the records emitted so far, as it must after any call.
     */
    default boolean shouldYield() {
        return false;
    }
}
