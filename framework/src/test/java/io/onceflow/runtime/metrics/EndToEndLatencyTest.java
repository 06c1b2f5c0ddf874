package io.onceflow.runtime.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.metrics.Histogram;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class EndToEndLatencyTest {

    /** A histogram that keeps every value, to look at. */
    private static Histogram keeping(List<Long> values) {
        Histogram h = new Histogram();
        h.forwardTo(values::add);
        return h;
    }

    @Test
    void aCheckpointsRecordsCountOnceEverySinkSubtaskCommittedIt() {
        EndToEndLatency latency = new EndToEndLatency();
        EndToEndLatency.Source a = latency.source();
        EndToEndLatency.Source b = latency.source();
        a.record(1_000);
        a.record(1_004);
        b.record(1_100);
        a.seal(7);
        b.seal(7);
        a.record(5_000); // after the barrier: the next checkpoint's
        List<Long> values = new ArrayList<>();
        Histogram h = keeping(values);

        latency.committed("sink", 2, 7, 2_000, h);
        assertEquals(List.of(), values, "one of two sink subtasks committed: not all of 7 is visible yet");
        latency.committed("sink", 2, 7, 2_005, h);
        values.sort(Long::compare);
        assertEquals(List.of(900L, 1000L, 1000L), values, "commit time - bucket middle, one value per record");

        latency.committed("sink", 2, 7, 3_000, h);
        assertEquals(3, values.size(), "a checkpoint is recorded once per sink");
        a.seal(8);
        List<Long> other = new ArrayList<>();
        latency.committed("other", 1, 8, 6_000, keeping(other));
        assertEquals(4, other.size(), "another sink records checkpoints 7 and 8, whatever the first did: " + other);
        assertTrue(other.contains(995L), other.toString());
    }

    @Test
    void aBusyCheckpointIsSampledKeepingItsShape() {
        EndToEndLatency latency = new EndToEndLatency();
        EndToEndLatency.Source s = latency.source();
        for (int i = 0; i < 90_000; i++) {
            s.record(0); // 90 % of the records 1,000 ms before the commit
        }
        for (int i = 0; i < 10_000; i++) {
            s.record(900); // 10 % of them 100 ms before
        }
        s.seal(1);
        List<Long> values = new ArrayList<>();
        latency.committed("sink", 1, 1, 1_005, keeping(values));
        assertTrue(Math.abs(values.size() - EndToEndLatency.SAMPLES_PER_CHECKPOINT) < 100, "sampled: " + values.size());
        long fast = values.stream().filter(v -> v < 500).count();
        double share = (double) fast / values.size();
        assertTrue(share > 0.07 && share < 0.13, "the shares stay: " + share);
    }
    @Test
    void commitsOfCheckpointsAlreadyRecordedAreIgnored() {
        // a restart restores committables of checkpoints 27 and 28 and commits them again, after 28 was
        // recorded before the failure: nothing to record, and nothing to fail the sink's task with
        EndToEndLatency latency = new EndToEndLatency();
        EndToEndLatency.Source s = latency.source();
        s.record(1_000);
        s.seal(27);
        s.record(2_000);
        s.seal(28);
        List<Long> values = new ArrayList<>();
        Histogram h = keeping(values);
        latency.committed("sink", 1, 28, 3_005, h);
        assertEquals(2, values.size(), values.toString());

        latency.committed("sink", 1, 27, 4_000, h);
        latency.committed("sink", 1, 28, 4_000, h);
        assertEquals(2, values.size(), "re-commits after a restore record nothing: " + values);

        s.record(3_500);
        s.seal(29);
        latency.committed("sink", 1, 29, 4_005, h);
        assertEquals(List.of(2_000L, 1_000L, 500L), values, "the next checkpoint is recorded as usual");
    }
}
