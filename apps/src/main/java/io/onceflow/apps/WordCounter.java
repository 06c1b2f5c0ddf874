package io.onceflow.apps;

import io.onceflow.api.KeyedValue;
import io.onceflow.api.functions.Collector;
import io.onceflow.api.functions.KeyedProcessFunction;
import io.onceflow.api.functions.RuntimeContext;
import io.onceflow.api.state.ValueState;
import io.onceflow.api.state.ValueStateDescriptor;

/** The running count of each word, kept in keyed state: emits (word, count so far) per occurrence. */
final class WordCounter extends KeyedProcessFunction<String, String, KeyedValue<String, Long>> {

    private transient ValueState<Long> count;

    @Override
    public void open(RuntimeContext context) {
        count = context.getState(new ValueStateDescriptor<>("count", Long.class));
    }

    @Override
    public void processElement(String word, Context<String> ctx, Collector<KeyedValue<String, Long>> out) throws Exception {
        Long current = count.value();
        long next = current == null ? 1 : current + 1;
        count.update(next);
        out.collect(new KeyedValue<>(word, next));
    }
}
