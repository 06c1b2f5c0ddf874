package io.onceflow.runtime.task;

import io.onceflow.api.functions.CheckpointListener;
import io.onceflow.api.functions.Collector;
import io.onceflow.api.functions.FilterFunction;
import io.onceflow.api.functions.FlatMapFunction;
import io.onceflow.api.functions.Function;
import io.onceflow.api.functions.KeyedProcessFunction;
import io.onceflow.api.functions.MapFunction;
import io.onceflow.api.functions.ProcessFunction;
import io.onceflow.api.functions.RichFunction;

/**
 * Runs one user function: calls its {@code open}/{@code close} when it is a {@link RichFunction} and
 * forwards checkpoint notifications when it is a {@link CheckpointListener}.
 */
public abstract class UdfOperator<F extends Function, IN, OUT> extends AbstractStreamOperator<IN, OUT> {

    protected final F function;
    protected final Collector<OUT> collector = record -> output.collect(record);

    protected UdfOperator(F function) {
        this.function = function;
    }

    @Override
    public void open() throws Exception {
        if (function instanceof RichFunction rich) {
            rich.open(context);
        }
    }

    @Override
    public void notifyCheckpointComplete(long checkpointId) throws Exception {
        if (function instanceof CheckpointListener listener) {
            listener.notifyCheckpointComplete(checkpointId);
        }
    }

    @Override
    public void notifyCheckpointAborted(long checkpointId) throws Exception {
        if (function instanceof CheckpointListener listener) {
            listener.notifyCheckpointAborted(checkpointId);
        }
    }

    @Override
    public void close() throws Exception {
        if (function instanceof RichFunction rich) {
            rich.close();
        }
    }

    public static <I, O> UdfOperator<MapFunction<I, O>, I, O> map(MapFunction<I, O> f) {
        return new UdfOperator<>(f) {
            @Override
            public void processElement(I element) throws Exception {
                output.collect(function.map(element));
            }
        };
    }

    public static <I, O> UdfOperator<FlatMapFunction<I, O>, I, O> flatMap(FlatMapFunction<I, O> f) {
        return new UdfOperator<>(f) {
            @Override
            public void processElement(I element) throws Exception {
                function.flatMap(element, collector);
            }
        };
    }

    public static <T> UdfOperator<FilterFunction<T>, T, T> filter(FilterFunction<T> f) {
        return new UdfOperator<>(f) {
            @Override
            public void processElement(T element) throws Exception {
                if (function.filter(element)) {
                    output.collect(element);
                }
            }
        };
    }

    public static <I, O> UdfOperator<ProcessFunction<I, O>, I, O> process(ProcessFunction<I, O> f) {
        return new UdfOperator<>(f) {
            @Override
            public void processElement(I element) throws Exception {
                function.processElement(element, collector);
            }
        };
    }

    @SuppressWarnings("unchecked")
    public static <K, I, O> UdfOperator<KeyedProcessFunction<K, I, O>, I, O> keyedProcess(KeyedProcessFunction<K, I, O> f) {
        return new UdfOperator<>(f) {
            private final KeyedProcessFunction.Context<K> ctx = () -> (K) context.keyedState().getCurrentKey();

            @Override
            public void open() throws Exception {
                if (context.keyedState() == null) {
                    throw new IllegalStateException("Operator '" + context.getOperatorUid()
                            + "' runs a KeyedProcessFunction on a stream that is not keyed: call keyBy(...) first");
                }
                super.open();
            }

            @Override
            public void processElement(I element) throws Exception {
                function.processElement(element, ctx, collector);
            }
        };
    }
}
