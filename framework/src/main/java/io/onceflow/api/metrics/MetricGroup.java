package io.onceflow.api.metrics;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The metrics of one operator subtask. A name asked for twice gives the same counter, also after a
 * restart of the job in the same process. {@code JobClient.getCounters()} reports every counter,
 * summed over subtasks, as {@code <operator uid>.<name>}.
 */
public interface MetricGroup {

    /**
     * The counter called {@code name} (letters, digits, '_' and '.'), created on first use.
     *
     * @throws IllegalArgumentException for an empty name or one with other characters
     */
    Counter counter(String name);

    /**
     * A value that goes up and down, such as the lag of a source partition, read from {@code value}
     * whenever the metrics are reported (from another thread: it must be safe to call from any). The
     * same name and tags asked for again, also after a restart of the job in the same process, replace
     * the earlier supplier. {@code NaN} means not known yet. Only reported by a metrics endpoint.
     *
     * @param tags extra labels, such as the partition; names as for metrics
     */
    default void gauge(String name, Map<String, String> tags, java.util.function.DoubleSupplier value) {
    }

    /**
     * The histogram of durations called {@code name}, created on first use; the same name asked for again,
     * also after a restart of the job in the same process, gives the same histogram. Reported by a metrics
     * endpoint as {@code onceflow_operator_<name>_seconds} with buckets.
     */
    default Histogram histogram(String name) {
        checkName(name);
        return new Histogram();
    }

    /** A group that belongs to no job (tests, tools): its counters count but nobody reports them. */
    static MetricGroup unregistered() {
        Map<String, Counter> counters = new ConcurrentHashMap<>();
        return name -> counters.computeIfAbsent(checkName(name), n -> new Counter());
    }

    /** Returns {@code name} if it is a valid metric name, else throws saying what is allowed. */
    static String checkName(String name) {
        if (name == null || name.isEmpty() || !name.matches("[A-Za-z0-9_.]+")) {
            throw new IllegalArgumentException("A metric name must be letters, digits, '_' and '.', was '" + name + "'");
        }
        return name;
    }
}
