package io.onceflow.runtime.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.JobClient;
import io.onceflow.api.JobExecutionException;
import io.onceflow.api.JobMetrics;
import io.onceflow.api.RestartStrategies;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.api.functions.Collector;
import io.onceflow.api.functions.KeySelector;
import io.onceflow.api.functions.KeyedProcessFunction;
import io.onceflow.api.functions.RuntimeContext;
import io.onceflow.api.state.ValueState;
import io.onceflow.api.state.ValueStateDescriptor;
import io.onceflow.testing.CommittedStore;
import io.onceflow.runtime.fault.FaultPoint;
import io.onceflow.testing.InjectedFailure;
import io.onceflow.testing.SequenceChecker;
import io.onceflow.testing.SequenceSource;
import io.onceflow.testing.TransactionalTestSink;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Keys hash the same in every JVM: byte[] by content, and types with identity hashes are refused. */
class StableKeysTest {

    enum Color { RED, GREEN }

    record Tagged(String name, Color color) {
    }

    static final class NoHashCode {
    }

    static final class ByColor implements KeySelector<String, Color> {
        @Override
        public Color getKey(String value) {
            return Color.RED;
        }
    }

    @Test
    void theSameKeyMapsToTheSameKeyGroupInTwoJvms() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process child = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), KeyGroupsMain.class.getName(),
                "128").redirectErrorStream(true).start();
        List<Integer> there = new ArrayList<>();
        for (String line : new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
            if (!line.isBlank()) {
                there.add(Integer.parseInt(line.trim()));
            }
        }
        assertTrue(child.waitFor(60, TimeUnit.SECONDS));
        List<Integer> here = KeyGroupsMain.keyGroups(128);
        assertEquals(KeyGroupsMain.sampleKeys().size(), here.size());
        assertEquals(here, there, "every key, byte[] ones included, has one key group in every JVM");
        assertEquals(here, KeyGroupsMain.keyGroups(128), "and fresh byte[] objects with equal contents share it here too");
    }

    @Test
    void keyTypesWithIdentityHashesAreRefusedWhenTheJobIsBuilt() {
        StreamEnvironment env = StreamEnvironment.create();
        var words = env.fromSource(SequenceSource.bounded(1, 10, 2), "words");
        IllegalArgumentException lambda = assertThrows(IllegalArgumentException.class, () -> words.keyBy(w -> Color.RED));
        assertTrue(lambda.getMessage().contains(Color.class.getName() + ", an enum (enums hash by identity)")
                && lambda.getMessage().contains("for an enum, its name()"), lambda.getMessage());
        IllegalArgumentException selectorClass = assertThrows(IllegalArgumentException.class, () -> words.keyBy(new ByColor()));
        assertTrue(selectorClass.getMessage().contains("an enum"), selectorClass.getMessage());
        IllegalArgumentException record = assertThrows(IllegalArgumentException.class,
                () -> words.keyBy(w -> new Tagged(w, Color.GREEN)));
        assertTrue(record.getMessage().contains("a record whose component 'color'"), record.getMessage());
        IllegalArgumentException noHash = assertThrows(IllegalArgumentException.class, () -> words.keyBy(w -> new NoHashCode()));
        assertTrue(noHash.getMessage().contains("does not override hashCode()"), noHash.getMessage());
        IllegalArgumentException array = assertThrows(IllegalArgumentException.class, () -> words.keyBy(w -> new int[] {1}));
        assertTrue(array.getMessage().contains("only byte[] keys are compared by content"), array.getMessage());
    }

    @Test
    void aKeyTypeKnownOnlyAtRunTimeIsRefusedAtTheFirstKeyWithoutARestartLoop() throws Exception {
        StreamEnvironment env = StreamEnvironment.create();
        env.setRestartStrategy(RestartStrategies.fixedDelay(10, Duration.ZERO));
        KeySelector<String, Object> anything = w -> w.endsWith("7") ? Color.GREEN : w;
        env.fromSource(SequenceSource.bounded(1, 1_000, 10), "words")
                .keyBy(anything)
                .count()
                .map(Object::toString)
                .sinkTo(new TransactionalTestSink(CommittedStore.inMemory()));
        JobClient job = env.executeAsync("enum-at-run-time");
        JobExecutionException e = assertThrows(JobExecutionException.class, () -> job.awaitTermination(Duration.ofSeconds(30)));
        assertTrue(e.getMessage().contains("an enum"), e.getMessage());
        assertEquals(0, job.getMetrics().numRestarts(), "a restart would meet the same key");
    }

    /** Counts per byte[] key and emits {@code "<key as text>,<count>"}. */
    static final class CountBytes extends KeyedProcessFunction<byte[], byte[], String> {
        private transient ValueState<Long> count;

        @Override
        public void open(RuntimeContext context) {
            count = context.getState(new ValueStateDescriptor<>("count", Long.class));
        }

        @Override
        public void processElement(byte[] value, Context<byte[]> ctx, Collector<String> out) throws Exception {
            long next = count.value() == null ? 1 : count.value() + 1;
            count.update(next);
            out.collect(new String(ctx.getCurrentKey(), StandardCharsets.UTF_8) + "," + next);
        }
    }

    @Test
    void byteArrayKeysKeepTheirStateByContentThroughRestores() throws Exception {
        long total = 30_000;
        int keys = 100;
        CommittedStore store = CommittedStore.inMemory();
        AtomicInteger failures = new AtomicInteger();
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(3);
        env.enableCheckpointing(Duration.ofMillis(30));
        env.getCheckpointConfig().setCheckpointStorage("memory:");
        env.setRestartStrategy(RestartStrategies.fixedDelay(10, Duration.ZERO));
        env.setFaultInjector((point, uid, subtask, checkpointId) -> {
            if (point == FaultPoint.AFTER_CHECKPOINT_COMPLETE_BEFORE_NOTIFY && checkpointId % 4 == 0
                    && failures.incrementAndGet() <= 3) {
                throw new InjectedFailure("restore from checkpoint " + checkpointId);
            }
        });
        env.fromSource(SequenceSource.bounded(3, total, keys).throttled(10_000), "words").uid("source")
                .map(w -> w.getBytes(StandardCharsets.UTF_8)).uid("to-bytes")
                .keyBy(b -> b)
                .process(new CountBytes()).uid("count")
                .sinkTo(new TransactionalTestSink(store)).uid("sink");
        JobMetrics metrics = env.execute("byte-keys");
        assertTrue(metrics.numRestarts() >= 1, "restored at least once: " + metrics);
        SequenceChecker.Result result = SequenceChecker.check(store.readAll(), SequenceChecker.expectedForSequence(total, keys));
        assertTrue(result.exact(), "every byte[] key counted 1..n, across " + metrics.numRestarts() + " restores: " + result);
    }
}
