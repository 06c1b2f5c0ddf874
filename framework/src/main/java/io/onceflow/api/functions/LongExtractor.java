package io.onceflow.api.functions;

/** Extracts a long from a record (the field a running sum adds up). */
@FunctionalInterface
public interface LongExtractor<T> extends Function {
    long extract(T value) throws Exception;
}
