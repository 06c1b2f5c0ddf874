package io.onceflow.testing;

import io.onceflow.api.functions.FlatMapFunction;
import io.onceflow.api.functions.KeySelector;
import io.onceflow.api.functions.KeyedProcessFunction;
import io.onceflow.api.functions.MapFunction;
import io.onceflow.api.functions.ProcessFunction;
import io.onceflow.api.serialization.TypeSerializer;
import io.onceflow.api.sink.Sink;
import io.onceflow.runtime.fault.FaultInjector;
import io.onceflow.runtime.state.HeapKeyedStateBackend;
import io.onceflow.runtime.state.KeyGroupRange;
import io.onceflow.runtime.state.KeyGroups;
import io.onceflow.runtime.state.OperatorStateBackend;
import io.onceflow.runtime.state.SubtaskStateFormat;
import io.onceflow.runtime.task.OperatorContext;
import io.onceflow.runtime.task.SinkOperator;
import io.onceflow.runtime.task.StreamOperator;
import io.onceflow.runtime.task.UdfOperator;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.function.Supplier;

/**
 * Drives one operator with no threads: feed elements, take snapshots, notify completion, and restore
 * a snapshot into a <em>new</em> instance, the way a restart would. Snapshots go through the real
 * binary state format, so what a test restores is exactly what a checkpoint would hold.
 *
 * <pre>{@code
 * var h = OperatorHarness.forKeyedProcess(RunningCount::new, (String w) -> w);
 * h.processElement("a");
 * var snapshot = h.snapshot(1);
 * var restored = h.restoreInto(snapshot);     // a fresh RunningCount with the state of checkpoint 1
 * restored.processElement("a");               // emits "a,2"
 * }</pre>
 *
 * {@link #verifyRestoreAfterEveryElement} runs a list of inputs twice — straight through, and with a
 * snapshot and restore into a new instance after every element — and fails unless both give the same
 * output.
 */
public final class OperatorHarness<IN, OUT> implements AutoCloseable {
    /** Where sinks under test keep their checkpoint files and commit marks: in this JVM, shared by every harness. */
    private static final io.onceflow.runtime.storage.MemoryCheckpointStorage HARNESS_STORAGE =
            new io.onceflow.runtime.storage.MemoryCheckpointStorage();

    /** The state of one operator instance at one checkpoint, in Onceflow's binary state format. */
    public record Snapshot(long checkpointId, byte[] state) {
    }

    private final Supplier<StreamOperator<IN, OUT>> factory;
    private final KeySelector<IN, Object> keySelector;
    private final TypeSerializer<Object> keySerializer;
    private final int maxParallelism = KeyGroups.DEFAULT_MAX_PARALLELISM;
    private final List<OUT> output = new ArrayList<>();
    private final List<String> sideOutput = new ArrayList<>();
    private final StreamOperator<IN, OUT> operator;
    private final OperatorStateBackend operatorState;
    private final HeapKeyedStateBackend keyedState;
    private final long restoredFrom;
    private boolean opened;

    private OperatorHarness(Supplier<StreamOperator<IN, OUT>> factory, KeySelector<IN, Object> keySelector,
                            TypeSerializer<Object> keySerializer, Snapshot restore, FaultInjector faults) {
        this.factory = factory;
        this.keySelector = keySelector;
        this.keySerializer = keySerializer;
        Map<String, List<byte[]>> lists = new LinkedHashMap<>();
        KeyGroupRange all = new KeyGroupRange(0, maxParallelism - 1);
        this.keyedState = keySelector == null ? null
                : new HeapKeyedStateBackend("harness", keySerializer, maxParallelism, all);
        if (restore != null) {
            try {
                SubtaskStateFormat.read(new java.io.ByteArrayInputStream(restore.state()), "harness snapshot "
                        + restore.checkpointId(), lists, all, keyedState);
            } catch (IOException e) {
                throw new IllegalStateException("Could not read snapshot: " + e.getMessage(), e);
            }
        }
        this.restoredFrom = restore == null ? -1 : restore.checkpointId();
        this.operatorState = new OperatorStateBackend(lists);
        this.operator = factory.get();
        operator.setup(new OperatorContext<>("harness-job", "harness", 0, 1, 0, output::add, operatorState, keyedState,
                restore == null ? OptionalLong.empty() : OptionalLong.of(restore.checkpointId()),
                faults == null ? FaultInjector.NONE : faults, io.onceflow.api.metrics.MetricGroup.unregistered(),
                (tag, record) -> sideOutput.add(tag.getId() + ":" + record), HARNESS_STORAGE.forJob("harness-job")));
    }

    @SuppressWarnings("unchecked")
    public static <K, IN, OUT> OperatorHarness<IN, OUT> forKeyedProcess(Supplier<KeyedProcessFunction<K, IN, OUT>> function,
                                                                        KeySelector<IN, K> keySelector) {
        return new OperatorHarness<>(() -> UdfOperator.keyedProcess(function.get()),
                (KeySelector<IN, Object>) Objects.requireNonNull(keySelector), null, null, null);
    }

    public static <IN, OUT> OperatorHarness<IN, OUT> forMap(Supplier<MapFunction<IN, OUT>> function) {
        return new OperatorHarness<>(() -> UdfOperator.map(function.get()), null, null, null, null);
    }

    public static <IN, OUT> OperatorHarness<IN, OUT> forFlatMap(Supplier<FlatMapFunction<IN, OUT>> function) {
        return new OperatorHarness<>(() -> UdfOperator.flatMap(function.get()), null, null, null, null);
    }

    public static <IN, OUT> OperatorHarness<IN, OUT> forProcess(Supplier<ProcessFunction<IN, OUT>> function) {
        return new OperatorHarness<>(() -> UdfOperator.process(function.get()), null, null, null, null);
    }

    /** A sink subtask: its writer, its committables per checkpoint and its committer, as the runtime runs them. */
    public static <IN> OperatorHarness<IN, Void> forSink(Supplier<Sink<IN>> sink) {
        return new OperatorHarness<>(() -> new SinkOperator<>(sink.get()), null, null, null, null);
    }

    /** The same, with a fault injector (for BEFORE_COMMIT / AFTER_COMMIT). */
    public static <IN> OperatorHarness<IN, Void> forSink(Supplier<Sink<IN>> sink, FaultInjector faults) {
        return new OperatorHarness<>(() -> new SinkOperator<>(sink.get()), null, null, null, faults);
    }

    /** Initializes and opens the operator; called by the first {@link #processElement} if not before. */
    public OperatorHarness<IN, OUT> open() throws Exception {
        if (!opened) {
            opened = true;
            operator.initializeState();
            operator.open();
        }
        return this;
    }

    public void processElement(IN element) throws Exception {
        open();
        if (keyedState != null) {
            keyedState.setCurrentKey(keySelector.getKey(element));
        }
        operator.processElement(element);
    }

    public void endInput() throws Exception {
        open();
        operator.endInput();
    }

    /** Everything emitted so far (live list). */
    public List<OUT> getOutput() {
        return output;
    }

    /** What the operator emitted to side outputs, as {@code "<tag id>:<record>"}, in order. */
    public List<String> getSideOutput() {
        return sideOutput;
    }

    /** Takes the snapshot checkpoint {@code checkpointId} would take. */
    public Snapshot snapshot(long checkpointId) throws Exception {
        open();
        operator.snapshotState(checkpointId);
        return new Snapshot(checkpointId, SubtaskStateFormat.toBytes(operatorState, keyedState, checkpointId));
    }

    public void notifyCheckpointComplete(long checkpointId) throws Exception {
        operator.notifyCheckpointComplete(checkpointId);
    }

    public void notifyCheckpointAborted(long checkpointId) throws Exception {
        operator.notifyCheckpointAborted(checkpointId);
    }

    /** A new instance of the operator, restored from {@code snapshot} and opened, as after a restart. */
    public OperatorHarness<IN, OUT> restoreInto(Snapshot snapshot) throws Exception {
        return new OperatorHarness<>(factory, keySelector, keySerializer, snapshot, null).open();
    }

    /** The checkpoint this instance was restored from, or -1. */
    public long restoredFrom() {
        return restoredFrom;
    }

    @Override
    public void close() throws Exception {
        operator.close();
    }

    /**
     * Runs {@code inputs} through a fresh harness straight, then again with snapshot and restore into a
     * new instance after every element, and checks that both outputs are equal.
     *
     * @return the output
     * @throws AssertionError naming the first difference
     */
    public static <IN, OUT> List<OUT> verifyRestoreAfterEveryElement(Supplier<OperatorHarness<IN, OUT>> harnesses,
                                                                     List<IN> inputs) throws Exception {
        List<OUT> straight;
        try (OperatorHarness<IN, OUT> h = harnesses.get()) {
            for (IN in : inputs) {
                h.processElement(in);
            }
            straight = new ArrayList<>(h.getOutput());
        }
        List<OUT> restored = new ArrayList<>();
        OperatorHarness<IN, OUT> h = harnesses.get();
        long checkpoint = 0;
        for (IN in : inputs) {
            h.processElement(in);
            restored.addAll(h.getOutput());
            h.getOutput().clear();
            Snapshot s = h.snapshot(++checkpoint);
            h.close();
            h = h.restoreInto(s);
        }
        h.close();
        if (!straight.equals(restored)) {
            int i = 0;
            while (i < Math.min(straight.size(), restored.size()) && Objects.equals(straight.get(i), restored.get(i))) {
                i++;
            }
            throw new AssertionError("Output differs when the operator is restored after every element: at index " + i
                    + " straight run gave " + (i < straight.size() ? straight.get(i) : "<end>") + " but restored run gave "
                    + (i < restored.size() ? restored.get(i) : "<end>"));
        }
        return straight;
    }
}
