package io.onceflow.api.functions;

@FunctionalInterface
public interface ReduceFunction<T> extends Function {
    T reduce(T accumulated, T value) throws Exception;
}
