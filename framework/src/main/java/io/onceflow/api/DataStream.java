package io.onceflow.api;

import io.onceflow.api.functions.FilterFunction;
import io.onceflow.api.functions.FlatMapFunction;
import io.onceflow.api.functions.KeySelector;
import io.onceflow.api.functions.MapFunction;
import io.onceflow.api.functions.ProcessFunction;
import io.onceflow.api.serialization.TypeSerializer;
import io.onceflow.api.sink.Sink;
import io.onceflow.runtime.graph.FunctionCopier;
import io.onceflow.runtime.graph.OperatorFactory;
import io.onceflow.runtime.graph.Partitioning;
import io.onceflow.runtime.graph.Transformation;
import io.onceflow.runtime.task.SinkOperator;
import io.onceflow.runtime.task.UdfOperator;
import java.util.Objects;

/**
 * A stream of records of type {@code T}. Each operation adds an operator and returns its output
 * stream; {@link #uid}, {@link #name} and {@link #setParallelism} configure the operator that produced
 * this stream.
 */
public class DataStream<T> {

    final StreamEnvironment env;
    final Transformation transformation;
    final Partitioning nextPartitioning;

    DataStream(StreamEnvironment env, Transformation transformation, Partitioning nextPartitioning) {
        this.env = env;
        this.transformation = transformation;
        this.nextPartitioning = nextPartitioning;
    }

    /**
     * The stable identity of the operator that produced this stream: its state in checkpoints is found
     * by it. Set one on every stateful operator; must be unique in the job.
     */
    public DataStream<T> uid(String uid) {
        Objects.requireNonNull(uid, "uid");
        if (uid.isBlank()) {
            throw new IllegalArgumentException("A uid must not be blank");
        }
        transformation.setUid(uid);
        return this;
    }

    public DataStream<T> name(String name) {
        transformation.setName(StreamEnvironment.name(name));
        return this;
    }

    /** The parallelism of the operator that produced this stream. */
    public DataStream<T> setParallelism(int parallelism) {
        if (parallelism < 1) {
            throw new IllegalArgumentException("Parallelism must be at least 1, was " + parallelism);
        }
        transformation.setParallelism(parallelism);
        return this;
    }

    public <R> DataStream<R> map(MapFunction<T, R> function) {
        Objects.requireNonNull(function, "function");
        var copies = FunctionCopier.copies(function, "map");
        return add("map", () -> UdfOperator.map(copies.get()), Transformation.Kind.OPERATOR);
    }

    public <R> DataStream<R> flatMap(FlatMapFunction<T, R> function) {
        Objects.requireNonNull(function, "function");
        var copies = FunctionCopier.copies(function, "flatMap");
        return add("flatMap", () -> UdfOperator.flatMap(copies.get()), Transformation.Kind.OPERATOR);
    }

    public DataStream<T> filter(FilterFunction<T> function) {
        Objects.requireNonNull(function, "function");
        var copies = FunctionCopier.copies(function, "filter");
        return add("filter", () -> UdfOperator.filter(copies.get()), Transformation.Kind.OPERATOR);
    }

    public <R> DataStream<R> process(ProcessFunction<T, R> function) {
        Objects.requireNonNull(function, "function");
        var copies = FunctionCopier.copies(function, "process");
        return add("process", () -> UdfOperator.process(copies.get()), Transformation.Kind.OPERATOR);
    }

    /**
     * Partitions the stream by key: all records with one key go to one subtask of the next operator,
     * which can then use keyed state. Keys of type String, Long, Integer, Double, Boolean and byte[] are
     * written into checkpoints as they are; for other key types use {@link #keyBy(KeySelector, TypeSerializer)}.
     *
     * <p>A key's hash must be the same in every JVM, since a checkpoint is restored in another process:
     * {@code byte[]} keys are compared by content, and enums, other arrays and classes that do not
     * override {@code hashCode()} are refused (here, when the selector's key type can be read off it,
     * otherwise at the first such key), with a message saying what to key by instead.
     *
     * @throws IllegalArgumentException when the selector's key type has no stable hash
     */
    public <K> KeyedStream<T, K> keyBy(KeySelector<T, K> keySelector) {
        Objects.requireNonNull(keySelector, "keySelector");
        io.onceflow.runtime.state.StableKeys.checkSelector(keySelector, "this keyBy(...)");
        return new KeyedStream<>(env, transformation, keySelector, null);
    }

    /** As {@link #keyBy(KeySelector)}, with the serializer keys are written into checkpoints with. */
    public <K> KeyedStream<T, K> keyBy(KeySelector<T, K> keySelector, TypeSerializer<K> keySerializer) {
        Objects.requireNonNull(keySelector, "keySelector");
        io.onceflow.runtime.state.StableKeys.checkSelector(keySelector, "this keyBy(...)");
        return new KeyedStream<>(env, transformation, keySelector, Objects.requireNonNull(keySerializer, "keySerializer"));
    }

    /**
     * The records the operator that produced this stream emitted to the side output {@code tag}, as a
     * stream of their own (by default with that operator's parallelism).
     */
    public <X> DataStream<X> getSideOutput(OutputTag<X> tag) {
        Objects.requireNonNull(tag, "tag");
        for (Transformation c : transformation.getConsumers()) {
            if (c.getKind() == Transformation.Kind.SIDE_OUTPUT && c.getSideOutputTag().equals(tag)) {
                return new DataStream<>(env, c, null);
            }
        }
        Transformation t = Transformation.operator(env.nextId(), Transformation.Kind.SIDE_OUTPUT,
                "side output " + tag.getId(), transformation, null, null, null,
                () -> UdfOperator.map((MapFunction<Object, Object>) r -> r));
        t.setSideOutputTag(tag);
        if (transformation.getParallelism() > 0) {
            t.setParallelism(transformation.getParallelism());
        }
        env.add(t);
        return new DataStream<>(env, t, null);
    }

    /**
     * Opt-in dead letters for a user function: when the function of the operator that produced this
     * stream throws on a record, the record goes to the side output {@code tag} as a
     * {@link FailedRecord} (read it with {@link #getSideOutput}, for example into a dead-letter topic)
     * instead of failing the job. Records the function emitted for that input before it threw stay
     * emitted. More than {@code maxPerCheckpoint} failures in one checkpoint interval of a subtask
     * stop the job (without a restart, which would meet the same records): the function or the data
     * is broken. Counted in {@code <uid>.failedRecords}.
     *
     * @param <I> the input type of the operator's function
     */
    public <I> DataStream<T> catchFailures(OutputTag<FailedRecord<I>> tag, int maxPerCheckpoint) {
        Objects.requireNonNull(tag, "tag");
        if (maxPerCheckpoint < 0) {
            throw new IllegalArgumentException("maxPerCheckpoint must not be negative, was " + maxPerCheckpoint);
        }
        if (transformation.getKind() != Transformation.Kind.OPERATOR) {
            throw new IllegalStateException("catchFailures(...) applies to a map, flatMap, filter or process "
                    + "operator; " + transformation + " is a " + transformation.getKind().name().toLowerCase(java.util.Locale.ROOT));
        }
        transformation.setFailureOutput(tag, maxPerCheckpoint);
        return this;
    }

    /** {@link #catchFailures(OutputTag, int)} with at most 1,000 failures per checkpoint interval and subtask. */
    public <I> DataStream<T> catchFailures(OutputTag<FailedRecord<I>> tag) {
        return catchFailures(tag, 1_000);
    }

    /** Deals the records out round-robin to the subtasks of the next operator. */
    public DataStream<T> rebalance() {
        return new DataStream<>(env, transformation, Partitioning.REBALANCE);
    }

    public DataStreamSink<T> sinkTo(Sink<T> sink) {
        Objects.requireNonNull(sink, "sink");
        Transformation t = Transformation.operator(env.nextId(), Transformation.Kind.SINK, "sink", transformation,
                nextPartitioning, null, null, () -> new SinkOperator<>(sink));
        t.setConnector(sink);
        env.add(t);
        return new DataStreamSink<>(t);
    }

    <R> DataStream<R> add(String name, OperatorFactory factory, Transformation.Kind kind) {
        Transformation t = Transformation.operator(env.nextId(), kind, name, transformation, nextPartitioning,
                null, null, factory);
        env.add(t);
        return new DataStream<>(env, t, null);
    }
}
