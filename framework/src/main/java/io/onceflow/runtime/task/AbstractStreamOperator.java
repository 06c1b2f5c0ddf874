package io.onceflow.runtime.task;

/** Keeps the context; the one convenience base class for operators. */
public abstract class AbstractStreamOperator<IN, OUT> implements StreamOperator<IN, OUT> {

    protected OperatorContext<OUT> context;
    protected Output<OUT> output;

    @Override
    public void setup(OperatorContext<OUT> context) {
        this.context = context;
        this.output = context.output();
    }
}
