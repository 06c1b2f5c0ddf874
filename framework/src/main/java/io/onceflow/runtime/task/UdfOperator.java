package io.onceflow.runtime.task;

import io.onceflow.api.FailedRecord;
import io.onceflow.api.NonRecoverableException;
import io.onceflow.api.OutputTag;
import io.onceflow.api.functions.CheckpointListener;
import io.onceflow.api.functions.Collector;
import io.onceflow.api.functions.FilterFunction;
import io.onceflow.api.functions.FlatMapFunction;
import io.onceflow.api.functions.Function;
import io.onceflow.api.functions.KeyedProcessFunction;
import io.onceflow.api.functions.MapFunction;
import io.onceflow.api.functions.ProcessFunction;
import io.onceflow.api.functions.RichFunction;
import io.onceflow.api.metrics.Counter;

/**
 * Runs one user function: calls its {@code open}/{@code close} when it is a {@link RichFunction} and
 * forwards checkpoint notifications when it is a {@link CheckpointListener}. With
 * {@link #catchFailures}, a record the function throws on goes to a side output as a
 * {@link FailedRecord} instead of failing the task, up to a number per checkpoint interval.
 */
public abstract class UdfOperator<F extends Function, IN, OUT> extends AbstractStreamOperator<IN, OUT> {

    protected final F function;
    protected final Collector<OUT> collector = new Collector<>() {
        @Override
        public void collect(OUT record) {
            output.collect(record);
        }

        @Override
        public <X> void output(OutputTag<X> tag, X value) {
            context.sideOutputs().emit(tag, value);
        }
    };

    private OutputTag<?> failureTag;
    private int maxFailuresPerCheckpoint;
    private long intervalFailures;
    private Counter failedRecords;

    protected UdfOperator(F function) {
        this.function = function;
    }

    /** Sends records the function throws on to {@code tag}; more than {@code maxPerCheckpoint} per interval fail the job. */
    public void catchFailures(OutputTag<?> tag, int maxPerCheckpoint) {
        this.failureTag = tag;
        this.maxFailuresPerCheckpoint = maxPerCheckpoint;
    }

    /** Applies the function to one record. */
    protected abstract void invoke(IN element) throws Exception;

    @Override
    public final void processElement(IN element) throws Exception {
        if (failureTag == null) {
            invoke(element);
            return;
        }
        try {
            invoke(element);
        } catch (Exception e) {
            onFailure(element, e);
        }
    }

    private void onFailure(IN element, Exception e) {
        if (++intervalFailures > maxFailuresPerCheckpoint) {
            // a restart would meet the same records: the function or the data must change first
            throw new NonRecoverableException("Operator '" + context.getOperatorUid() + "' subtask "
                    + context.getIndexOfThisSubtask() + ": its function threw on " + intervalFailures + " records since "
                    + "the last checkpoint, more than the " + maxFailuresPerCheckpoint + " allowed by catchFailures(...); "
                    + "the latest: " + e + ". Fix the function or the data and start the job again (it resumes at its "
                    + "latest checkpoint), or allow more failures per checkpoint", e);
        }
        if (failedRecords == null) {
            failedRecords = context.getMetricGroup().counter("failedRecords");
        }
        failedRecords.inc();
        context.sideOutputs().emit(failureTag, new FailedRecord<>(element, context.getOperatorUid(),
                e.getClass().getName(), String.valueOf(e.getMessage())));
    }

    @Override
    public void snapshotState(long checkpointId) throws Exception {
        intervalFailures = 0;
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
            protected void invoke(I element) throws Exception {
                output.collect(function.map(element));
            }
        };
    }

    public static <I, O> UdfOperator<FlatMapFunction<I, O>, I, O> flatMap(FlatMapFunction<I, O> f) {
        return new UdfOperator<>(f) {
            @Override
            protected void invoke(I element) throws Exception {
                function.flatMap(element, collector);
            }
        };
    }

    public static <T> UdfOperator<FilterFunction<T>, T, T> filter(FilterFunction<T> f) {
        return new UdfOperator<>(f) {
            @Override
            protected void invoke(T element) throws Exception {
                if (function.filter(element)) {
                    output.collect(element);
                }
            }
        };
    }

    public static <I, O> UdfOperator<ProcessFunction<I, O>, I, O> process(ProcessFunction<I, O> f) {
        return new UdfOperator<>(f) {
            @Override
            protected void invoke(I element) throws Exception {
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
            protected void invoke(I element) throws Exception {
                function.processElement(element, ctx, collector);
            }
        };
    }
}
