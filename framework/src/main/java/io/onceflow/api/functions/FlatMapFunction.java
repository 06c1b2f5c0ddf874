package io.onceflow.api.functions;

@FunctionalInterface
public interface FlatMapFunction<IN, OUT> extends Function {
    void flatMap(IN value, Collector<OUT> out) throws Exception;
}
