package io.onceflow.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.functions.Collector;
import io.onceflow.api.functions.KeyedProcessFunction;
import io.onceflow.api.functions.ProcessFunction;
import io.onceflow.api.functions.RuntimeContext;
import io.onceflow.api.serialization.Serializers;
import io.onceflow.api.state.ListState;
import io.onceflow.api.state.ListStateDescriptor;
import io.onceflow.api.state.MapState;
import io.onceflow.api.state.MapStateDescriptor;
import io.onceflow.api.state.ReducingState;
import io.onceflow.api.state.ReducingStateDescriptor;
import io.onceflow.api.state.ValueState;
import io.onceflow.api.state.ValueStateDescriptor;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** Every kind of state survives a snapshot and a restore into a new instance, element by element. */
class StateKindsTest {

    /** Input "key:letter"; keeps every kind of state per key and prints all of it. */
    static final class AllKinds extends KeyedProcessFunction<String, String, String> {
        private transient ValueState<String> last;
        private transient ListState<String> history;
        private transient MapState<String, Integer> letters;
        private transient ReducingState<Long> total;

        @Override
        public void open(RuntimeContext ctx) {
            last = ctx.getState(new ValueStateDescriptor<>("last", String.class));
            history = ctx.getListState(new ListStateDescriptor<>("history", String.class));
            letters = ctx.getMapState(new MapStateDescriptor<>("letters", Serializers.STRING, Serializers.INT));
            total = ctx.getReducingState(new ReducingStateDescriptor<>("total", Long::sum, Serializers.LONG));
        }

        @Override
        public void processElement(String value, Context<String> ctx, Collector<String> out) throws Exception {
            String letter = value.substring(value.indexOf(':') + 1);
            String previous = last.value();
            last.update(letter);
            history.add(letter);
            Integer seen = letters.get(letter);
            letters.put(letter, seen == null ? 1 : seen + 1);
            total.add((long) letter.charAt(0));
            TreeMap<String, Integer> sorted = new TreeMap<>();
            for (var e : letters.entries()) {
                sorted.put(e.getKey(), e.getValue());
            }
            List<String> h = new ArrayList<>();
            history.get().forEach(h::add);
            out.collect(ctx.getCurrentKey() + " prev=" + previous + " history=" + h + " letters=" + sorted
                    + " total=" + total.get());
        }
    }

    @Test
    void valueListMapAndReducingStateSurviveRestores() throws Exception {
        List<String> inputs = List.of("a:x", "b:y", "a:y", "a:x", "b:z", "c:x", "a:z");
        List<String> out = OperatorHarness.verifyRestoreAfterEveryElement(
                () -> OperatorHarness.forKeyedProcess(AllKinds::new, (String s) -> s.substring(0, s.indexOf(':'))), inputs);
        assertEquals("a prev=x history=[x, y, x, z] letters={x=2, y=1, z=1} total=" + (120 + 121 + 120 + 122),
                out.get(out.size() - 1));
        assertEquals("b prev=y history=[y, z] letters={y=1, z=1} total=" + (121 + 122), out.get(4));
    }

    /** Keeps a running total of all its inputs in operator list state. */
    static final class OperatorTotal extends ProcessFunction<Long, Long> {
        private transient ListState<Long> state;

        @Override
        public void open(RuntimeContext ctx) throws Exception {
            state = ctx.getOperatorStateStore().getListState(new ListStateDescriptor<>("total", Long.class));
        }

        @Override
        public void processElement(Long value, Collector<Long> out) throws Exception {
            long sum = value;
            for (Long v : state.get()) {
                sum += v;
            }
            state.update(List.of(sum));
            out.collect(sum);
        }
    }

    @Test
    void operatorListStateSurvivesRestores() throws Exception {
        List<Long> out = OperatorHarness.verifyRestoreAfterEveryElement(
                () -> OperatorHarness.forProcess(OperatorTotal::new), List.of(1L, 2L, 3L, 4L));
        assertEquals(List.of(1L, 3L, 6L, 10L), out);
    }

    /** Asks for the same name as two kinds of state. */
    static final class Confused extends KeyedProcessFunction<String, String, String> {
        @Override
        public void open(RuntimeContext ctx) {
            ctx.getState(new ValueStateDescriptor<>("s", String.class));
            ctx.getListState(new ListStateDescriptor<>("s", String.class));
        }

        @Override
        public void processElement(String value, Context<String> ctx, Collector<String> out) {
        }
    }

    @Test
    void oneNameForTwoKindsOfStateIsRejected() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> OperatorHarness.forKeyedProcess(Confused::new, (String s) -> s).open());
        assertTrue(e.getMessage().contains("registered as VALUE state and now requested as LIST"), e.getMessage());
    }
}
