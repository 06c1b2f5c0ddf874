package io.onceflow.testing;

import io.onceflow.api.functions.Collector;
import io.onceflow.api.functions.KeyedProcessFunction;
import io.onceflow.api.functions.RuntimeContext;
import io.onceflow.api.state.ValueState;
import io.onceflow.api.state.ValueStateDescriptor;

/** Counts the records of each key in a {@code ValueState<Long>} and emits {@code "<key>,<count>"}. */
public final class RunningCount extends KeyedProcessFunction<String, String, String> {

    private transient ValueState<Long> count;

    @Override
    public void open(RuntimeContext context) {
        count = context.getState(new ValueStateDescriptor<>("count", Long.class));
    }

    @Override
    public void processElement(String key, Context<String> ctx, Collector<String> out) throws Exception {
        Long current = count.value();
        long next = current == null ? 1 : current + 1;
        count.update(next);
        out.collect(key + "," + next);
    }
}
