package io.onceflow.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.onceflow.runtime.metrics.MetricRegistry;
import io.onceflow.runtime.state.KeyGroupRange;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The records hashed as a job starts write {@code equals} and {@code hashCode} out (a record's own are linked through
 * method handles at their first call: see {@code RecordMethodsAtStartTest} in the Kafka connector). Written out,
 * they must still mean what a record's do: equal exactly when every component is, equal ones hash alike, null
 * components allowed where the record is public.
 */
class WrittenOutRecordMethodsTest {

    @Test
    void keyGroupRangesAreEqualByTheirBounds() {
        assertEqualPair(new KeyGroupRange(3, 9), new KeyGroupRange(3, 9));
        assertNotEquals(new KeyGroupRange(3, 9), new KeyGroupRange(3, 8));
        assertNotEquals(new KeyGroupRange(3, 9), new KeyGroupRange(2, 9));
        assertEqualPair(KeyGroupRange.EMPTY, new KeyGroupRange(0, -1));
        assertNotEquals(new KeyGroupRange(3, 9), "3-9");
        assertNotEquals(null, new KeyGroupRange(3, 9));
    }

    @Test
    void gaugeKeysAreEqualByAllFourComponentsAndAllowNulls() {
        Map<String, String> tags = Map.of("partition", "1");
        MetricRegistry.GaugeKey key = new MetricRegistry.GaugeKey("op", 1, "lag", tags);
        assertEqualPair(key, new MetricRegistry.GaugeKey("op", 1, "lag", Map.of("partition", "1")));
        assertNotEquals(key, new MetricRegistry.GaugeKey("other", 1, "lag", tags));
        assertNotEquals(key, new MetricRegistry.GaugeKey("op", 2, "lag", tags));
        assertNotEquals(key, new MetricRegistry.GaugeKey("op", 1, "size", tags));
        assertNotEquals(key, new MetricRegistry.GaugeKey("op", 1, "lag", Map.of("partition", "2")));
        assertEqualPair(new MetricRegistry.GaugeKey(null, -1, null, null),
                new MetricRegistry.GaugeKey(null, -1, null, null));
        assertNotEquals(key, new MetricRegistry.GaugeKey(null, 1, "lag", tags));
    }

    @Test
    void taskKeysAreEqualByTaskAndSubtask() {
        assertEqualPair(new JobMaster.TaskKey("source -> split", 0), new JobMaster.TaskKey("source -> split", 0));
        assertNotEquals(new JobMaster.TaskKey("source -> split", 0), new JobMaster.TaskKey("source -> split", 1));
        assertNotEquals(new JobMaster.TaskKey("source -> split", 0), new JobMaster.TaskKey("count", 0));
        assertEqualPair(new JobMaster.TaskKey(null, 0), new JobMaster.TaskKey(null, 0));
    }

    @Test
    void aMetricNameOfOneSubtaskIsOneCounterAndOneHistogram() {
        MetricRegistry registry = new MetricRegistry();
        assertSame(registry.group("op", 0).counter("records"), registry.group("op", 0).counter("records"));
        assertNotSame(registry.group("op", 0).counter("records"), registry.group("op", 1).counter("records"));
        assertNotSame(registry.group("op", 0).counter("records"), registry.group("other", 0).counter("records"));
        assertNotSame(registry.group("op", 0).counter("records"), registry.group("op", 0).counter("bytes"));
        assertSame(registry.group(null, -1).counter("restarts"), registry.group(null, -1).counter("restarts"));
        assertSame(registry.group("op", 0).histogram("latency"), registry.group("op", 0).histogram("latency"));
        assertNotSame(registry.group("op", 0).histogram("latency"), registry.group("op", 1).histogram("latency"));
    }

    private static void assertEqualPair(Object a, Object b) {
        assertNotSame(a, b);
        assertEquals(a, b);
        assertEquals(b, a);
        assertEquals(a.hashCode(), b.hashCode());
    }
}
