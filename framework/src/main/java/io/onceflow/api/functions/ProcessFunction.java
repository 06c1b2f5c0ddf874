package io.onceflow.api.functions;

/** Processes the records of a (non-keyed) stream one at a time; may emit any number of records. */
public abstract class ProcessFunction<IN, OUT> implements RichFunction {

    public abstract void processElement(IN value, Collector<OUT> out) throws Exception;
}
