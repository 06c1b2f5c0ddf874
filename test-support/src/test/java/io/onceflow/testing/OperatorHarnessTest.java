package io.onceflow.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.functions.Collector;
import io.onceflow.api.functions.KeyedProcessFunction;
import java.util.List;
import org.junit.jupiter.api.Test;

class OperatorHarnessTest {

    @Test
    void runningCountSurvivesRestoreAfterEveryElement() throws Exception {
        List<String> out = OperatorHarness.verifyRestoreAfterEveryElement(
                () -> OperatorHarness.forKeyedProcess(RunningCount::new, (String w) -> w),
                List.of("a", "b", "a", "c", "a", "b"));
        assertEquals(List.of("a,1", "b,1", "a,2", "c,1", "a,3", "b,2"), out);
    }

    /** Keeps its count in a field instead of state: correct until the first restart. */
    static final class FieldCount extends KeyedProcessFunction<String, String, String> {
        private long count;

        @Override
        public void processElement(String value, Context<String> ctx, Collector<String> out) {
            out.collect(value + "," + (++count));
        }
    }

    @Test
    void verificationCatchesStateKeptOutsideCheckpoints() {
        AssertionError e = assertThrows(AssertionError.class, () -> OperatorHarness.verifyRestoreAfterEveryElement(
                () -> OperatorHarness.forKeyedProcess(FieldCount::new, (String w) -> w), List.of("a", "a")));
        assertTrue(e.getMessage().contains("index 1"), e.getMessage());
    }

    @Test
    void sinkCommitsOnlyOnCompletionAndRecommitsAfterRestore() throws Exception {
        CommittedStore store = CommittedStore.inMemory();
        OperatorHarness<String, Void> sink = OperatorHarness.forSink(() -> new TransactionalTestSink(store));
        sink.processElement("x");
        sink.processElement("y");
        OperatorHarness.Snapshot s1 = sink.snapshot(1);
        assertEquals(List.of(), store.readAll(), "nothing may be visible before the checkpoint completes");

        // crash after checkpoint 1 completed, before the sink was notified: a new instance commits it on restore
        OperatorHarness<String, Void> restored = sink.restoreInto(s1);
        assertEquals(List.of("x", "y"), store.readAll());

        // the old instance's late notification commits the same transaction again: harmless
        sink.notifyCheckpointComplete(1);
        assertEquals(List.of("x", "y"), store.readAll());

        restored.processElement("z");
        restored.snapshot(2);
        restored.notifyCheckpointComplete(2);
        assertEquals(List.of("x", "y", "z"), store.readAll().stream().sorted().toList());
    }

    @Test
    void abortedCheckpointIsCommittedByTheNextCompletedOne() throws Exception {
        CommittedStore store = CommittedStore.inMemory();
        OperatorHarness<String, Void> sink = OperatorHarness.forSink(() -> new TransactionalTestSink(store));
        sink.processElement("a");
        sink.snapshot(1);
        sink.notifyCheckpointAborted(1);
        sink.processElement("b");
        sink.snapshot(2);
        assertEquals(List.of(), store.readAll());
        sink.notifyCheckpointComplete(2);
        assertEquals(List.of("a", "b"), store.readAll().stream().sorted().toList());
    }
}
