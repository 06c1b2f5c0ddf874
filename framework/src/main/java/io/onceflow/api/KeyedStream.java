package io.onceflow.api;

import io.onceflow.api.functions.Collector;
import io.onceflow.api.functions.FilterFunction;
import io.onceflow.api.functions.FlatMapFunction;
import io.onceflow.api.functions.KeySelector;
import io.onceflow.api.functions.LongExtractor;
import io.onceflow.api.functions.KeyedProcessFunction;
import io.onceflow.api.functions.MapFunction;
import io.onceflow.api.functions.ReduceFunction;
import io.onceflow.api.functions.RuntimeContext;
import io.onceflow.api.serialization.Serializers;
import io.onceflow.api.serialization.TypeSerializer;
import io.onceflow.api.state.ValueState;
import io.onceflow.api.state.ValueStateDescriptor;
import io.onceflow.runtime.graph.FunctionCopier;
import io.onceflow.runtime.graph.OperatorFactory;
import io.onceflow.runtime.graph.Partitioning;
import io.onceflow.runtime.graph.Transformation;
import io.onceflow.runtime.task.UdfOperator;
import java.util.Objects;

/**
 * A stream partitioned by key. The operator applied next reads it by key group and can use keyed
 * state, scoped to the key of the record being processed.
 */
public final class KeyedStream<T, K> {

    private final StreamEnvironment env;
    private final Transformation input;
    private final KeySelector<Object, Object> keySelector;
    private final TypeSerializer<Object> keySerializer;

    @SuppressWarnings("unchecked")
    KeyedStream(StreamEnvironment env, Transformation input, KeySelector<T, K> keySelector, TypeSerializer<K> keySerializer) {
        this.env = env;
        this.input = input;
        this.keySelector = (KeySelector<Object, Object>) keySelector;
        this.keySerializer = (TypeSerializer<Object>) keySerializer;
    }

    public <R> DataStream<R> process(KeyedProcessFunction<K, T, R> function) {
        Objects.requireNonNull(function, "function");
        var copies = FunctionCopier.copies(function, "process");
        return add("process", () -> UdfOperator.keyedProcess(copies.get()));
    }

    /** A map whose function may use keyed state through its {@code RuntimeContext}. */
    public <R> DataStream<R> map(MapFunction<T, R> function) {
        Objects.requireNonNull(function, "function");
        var copies = FunctionCopier.copies(function, "map");
        return add("map", () -> UdfOperator.map(copies.get()));
    }

    public <R> DataStream<R> flatMap(FlatMapFunction<T, R> function) {
        Objects.requireNonNull(function, "function");
        var copies = FunctionCopier.copies(function, "flatMap");
        return add("flatMap", () -> UdfOperator.flatMap(copies.get()));
    }

    public DataStream<T> filter(FilterFunction<T> function) {
        Objects.requireNonNull(function, "function");
        var copies = FunctionCopier.copies(function, "filter");
        return add("filter", () -> UdfOperator.filter(copies.get()));
    }

    /**
     * A running reduction per key: for every record emits the reduction of all records of its key so
     * far. {@code serializer} writes the reduced value into checkpoints.
     */
    public DataStream<T> reduce(ReduceFunction<T> reducer, TypeSerializer<T> serializer) {
        Objects.requireNonNull(reducer, "reducer");
        Objects.requireNonNull(serializer, "serializer");
        return process(new RunningReduce<>(reducer, serializer)).name("reduce");
    }

    /** A running sum per key of {@code field}: emits (key, sum so far) for every record. */
    public DataStream<KeyedValue<K, Long>> sum(LongExtractor<T> field) {
        Objects.requireNonNull(field, "field");
        return process(new RunningSum<K, T>(field)).name("sum");
    }

    /** A running count per key: emits (key, count so far) for every record. */
    public DataStream<KeyedValue<K, Long>> count() {
        return sum(v -> 1L).name("count");
    }

    private static final class RunningReduce<K, T> extends KeyedProcessFunction<K, T, T> {
        private final ReduceFunction<T> reducer;
        private final TypeSerializer<T> serializer;
        private transient ValueState<T> reduced;

        RunningReduce(ReduceFunction<T> reducer, TypeSerializer<T> serializer) {
            this.reducer = reducer;
            this.serializer = serializer;
        }

        @Override
        public void open(RuntimeContext context) {
            reduced = context.getState(new ValueStateDescriptor<>("reduce", serializer));
        }

        @Override
        public void processElement(T value, Context<K> ctx, Collector<T> out) throws Exception {
            T current = reduced.value();
            T next = current == null ? value : reducer.reduce(current, value);
            reduced.update(next);
            out.collect(next);
        }
    }

    private static final class RunningSum<K, T> extends KeyedProcessFunction<K, T, KeyedValue<K, Long>> {
        private final LongExtractor<T> field;
        private transient ValueState<Long> sum;

        RunningSum(LongExtractor<T> field) {
            this.field = field;
        }

        @Override
        public void open(RuntimeContext context) {
            sum = context.getState(new ValueStateDescriptor<>("sum", Serializers.LONG));
        }

        @Override
        public void processElement(T value, Context<K> ctx, Collector<KeyedValue<K, Long>> out) throws Exception {
            Long current = sum.value();
            long next = (current == null ? 0 : current) + field.extract(value);
            sum.update(next);
            out.collect(new KeyedValue<>(ctx.getCurrentKey(), next));
        }
    }

    private <R> DataStream<R> add(String name, OperatorFactory factory) {
        Transformation t = Transformation.operator(env.nextId(), Transformation.Kind.OPERATOR, name, input,
                Partitioning.HASH, keySelector, keySerializer, factory);
        env.add(t);
        return new DataStream<>(env, t, null);
    }
}
