package io.onceflow.api.source;

/** Where a reader emits records. Only valid inside {@link SourceReader#pollNext}. */
@FunctionalInterface
public interface ReaderOutput<T> {
    void collect(T record);
}
