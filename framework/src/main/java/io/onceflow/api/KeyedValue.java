package io.onceflow.api;

/** A key and a value, as emitted by the aggregation helpers of {@link KeyedStream}. */
public record KeyedValue<K, V>(K key, V value) {
}
