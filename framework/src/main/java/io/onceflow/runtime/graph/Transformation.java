package io.onceflow.runtime.graph;

import io.onceflow.api.functions.KeySelector;
import io.onceflow.api.serialization.TypeSerializer;
import io.onceflow.api.source.Source;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * One node of the logical program the API builds: a source, or an operator with one input. The
 * input edge says how records are partitioned and, for keyed operators, how keys are extracted.
 */
public final class Transformation {

    /** SIDE_OUTPUT passes on the records its input emitted to one side output (a tag). */
    public enum Kind { SOURCE, OPERATOR, SINK, SIDE_OUTPUT }

    private final int id;
    private final Kind kind;
    private String name;
    private String uid;
    private int parallelism = -1;
    private final Transformation input;
    private final Partitioning partitioning;
    private final KeySelector<Object, Object> keySelector;
    private final TypeSerializer<Object> keySerializer;
    private final Source<?, ?> source;
    private final OperatorFactory operatorFactory;
    private Object connector;
    private io.onceflow.api.OutputTag<?> sideOutputTag;
    private io.onceflow.api.OutputTag<?> failureTag;
    private int maxFailuresPerCheckpoint;
    private final List<Transformation> consumers = new ArrayList<>();

    private Transformation(int id, Kind kind, String name, Transformation input, Partitioning partitioning,
                           KeySelector<Object, Object> keySelector, TypeSerializer<Object> keySerializer,
                           Source<?, ?> source, OperatorFactory operatorFactory) {
        this.id = id;
        this.kind = kind;
        this.name = name;
        this.input = input;
        this.partitioning = partitioning;
        this.keySelector = keySelector;
        this.keySerializer = keySerializer;
        this.source = source;
        this.operatorFactory = operatorFactory;
        if (input != null) {
            input.consumers.add(this);
        }
    }

    public static Transformation source(int id, String name, Source<?, ?> source) {
        return new Transformation(id, Kind.SOURCE, name, null, null, null, null, Objects.requireNonNull(source), null);
    }

    /**
     * An operator reading {@code input}. {@code partitioning} null means the default: forward when the
     * parallelism matches, rebalance otherwise.
     */
    public static Transformation operator(int id, Kind kind, String name, Transformation input, Partitioning partitioning,
                                          KeySelector<Object, Object> keySelector, TypeSerializer<Object> keySerializer,
                                          OperatorFactory factory) {
        return new Transformation(id, kind, name, Objects.requireNonNull(input), partitioning, keySelector,
                keySerializer, null, Objects.requireNonNull(factory));
    }

    public int getId() {
        return id;
    }

    public Kind getKind() {
        return kind;
    }

    public String getName() {
        return name;
    }

    public void setName(String name) {
        this.name = name;
    }

    public String getUid() {
        return uid;
    }

    public void setUid(String uid) {
        this.uid = uid;
    }

    public int getParallelism() {
        return parallelism;
    }

    public void setParallelism(int parallelism) {
        this.parallelism = parallelism;
    }

    public Transformation getInput() {
        return input;
    }

    /** The partitioning asked for, or null for the default. */
    public Partitioning getPartitioning() {
        return partitioning;
    }

    public boolean isKeyed() {
        return keySelector != null;
    }

    public KeySelector<Object, Object> getKeySelector() {
        return keySelector;
    }

    public TypeSerializer<Object> getKeySerializer() {
        return keySerializer;
    }

    public Source<?, ?> getSource() {
        return source;
    }

    public OperatorFactory getOperatorFactory() {
        return operatorFactory;
    }

    /** The sink object of a sink transformation (for validation), or null. */
    public Object getConnector() {
        return connector;
    }

    public void setConnector(Object connector) {
        this.connector = connector;
    }

    public List<Transformation> getConsumers() {
        return consumers;
    }

    /** The side output a SIDE_OUTPUT transformation reads from its input, else null. */
    public io.onceflow.api.OutputTag<?> getSideOutputTag() {
        return sideOutputTag;
    }

    public void setSideOutputTag(io.onceflow.api.OutputTag<?> tag) {
        this.sideOutputTag = tag;
    }

    /** Where the operator sends records its function threw on ({@code catchFailures}), or null. */
    public io.onceflow.api.OutputTag<?> getFailureTag() {
        return failureTag;
    }

    public int getMaxFailuresPerCheckpoint() {
        return maxFailuresPerCheckpoint;
    }

    public void setFailureOutput(io.onceflow.api.OutputTag<?> tag, int maxPerCheckpoint) {
        this.failureTag = tag;
        this.maxFailuresPerCheckpoint = maxPerCheckpoint;
    }

    /** The ids of the side outputs of this transformation that some transformation reads. */
    public java.util.Set<String> consumedSideOutputs() {
        java.util.Set<String> ids = new java.util.TreeSet<>();
        for (Transformation c : consumers) {
            if (c.kind == Kind.SIDE_OUTPUT) {
                ids.add(c.sideOutputTag.getId());
            }
        }
        return ids;
    }

    @Override
    public String toString() {
        return "'" + name + "'" + (uid != null ? " (uid " + uid + ")" : "");
    }
}
