package io.onceflow.api.functions;

/**
 * Extracts the key of a record. The key's {@code hashCode()} decides its key group, so it must be
 * stable across JVMs (String, Long, Integer, records of those are; identity hash codes are not).
 */
@FunctionalInterface
public interface KeySelector<T, K> extends Function {
    K getKey(T value) throws Exception;
}
