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

    public enum Kind { SOURCE, OPERATOR, SINK }

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

    @Override
    public String toString() {
        return "'" + name + "'" + (uid != null ? " (uid " + uid + ")" : "");
    }
}
