package io.onceflow.runtime.metrics;

import io.onceflow.api.metrics.Counter;
import io.onceflow.api.metrics.MetricGroup;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Every counter of one job, by operator uid, subtask and name. It lives as long as the job's
 * {@code JobMaster}, so counters keep counting across restarts of the job in this process.
 */
public final class MetricRegistry {

    private record Key(String operatorUid, int subtask, String name) {
        // equals and hashCode written out: a record's own are linked through method handles at their first call,
        // milliseconds of a cold JVM each (every task's start registers counters); see RecordMethodsAtStartTest
        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && k.subtask == subtask && Objects.equals(k.operatorUid, operatorUid)
                    && k.name.equals(name);
        }

        @Override
        public int hashCode() {
            return (Objects.hashCode(operatorUid) * 31 + subtask) * 31 + name.hashCode();
        }
    }

    private final Map<Key, Counter> counters = new ConcurrentHashMap<>();
    private final EndToEndLatency endToEndLatency = new EndToEndLatency();

    /** The job's end-to-end latency bookkeeping, shared by its sources and committing sinks. */
    public EndToEndLatency endToEndLatency() {
        return endToEndLatency;
    }
    private final Map<Key, io.onceflow.api.metrics.Histogram> histograms = new ConcurrentHashMap<>();

    /** One histogram of one operator subtask. */
    public record HistogramEntry(String operatorUid, int subtask, String name, io.onceflow.api.metrics.Histogram histogram) {
    }

    private volatile java.util.function.Consumer<HistogramEntry> histogramListener;

    /**
     * Hands every histogram to {@code listener}: those there now, and each new one as it is created (before
     * anything is recorded in it), so a metrics endpoint sees every value.
     */
    public synchronized void watchHistograms(java.util.function.Consumer<HistogramEntry> listener) {
        this.histogramListener = listener;
        histogramEntries().forEach(listener);
    }

    /** Every histogram, one entry per operator subtask and name. */
    public java.util.List<HistogramEntry> histogramEntries() {
        java.util.List<HistogramEntry> all = new java.util.ArrayList<>();
        histograms.forEach((k, h) -> all.add(new HistogramEntry(k.operatorUid(), k.subtask(), k.name(), h)));
        return all;
    }

    /** A gauge of one operator subtask: its name and extra tags. */
    public record GaugeKey(String operatorUid, int subtask, String name, Map<String, String> tags) {
        // equals and hashCode written out, as Key's (null-safe, as a record's own: the type is public)
        @Override
        public boolean equals(Object o) {
            return o instanceof GaugeKey k && k.subtask == subtask && Objects.equals(k.operatorUid, operatorUid)
                    && Objects.equals(k.name, name) && Objects.equals(k.tags, tags);
        }

        @Override
        public int hashCode() {
            return Objects.hash(operatorUid, subtask, name, tags);
        }
    }

    private final Map<GaugeKey, java.util.function.DoubleSupplier> gauges = new ConcurrentHashMap<>();

    /** The metric group of one operator subtask. */
    public MetricGroup group(String operatorUid, int subtask) {
        return new MetricGroup() {
            @Override
            public Counter counter(String name) {
                return counters.computeIfAbsent(new Key(operatorUid, subtask, MetricGroup.checkName(name)),
                        k -> new Counter());
            }

            @Override
            public io.onceflow.api.metrics.Histogram histogram(String name) {
                Key key = new Key(operatorUid, subtask, MetricGroup.checkName(name));
                io.onceflow.api.metrics.Histogram existing = histograms.get(key);
                if (existing != null) {
                    return existing;
                }
                io.onceflow.api.metrics.Histogram created = new io.onceflow.api.metrics.Histogram();
                existing = histograms.putIfAbsent(key, created);
                if (existing != null) {
                    return existing;
                }
                java.util.function.Consumer<HistogramEntry> listener = histogramListener;
                if (listener != null) {
                    listener.accept(new HistogramEntry(operatorUid, subtask, key.name(), created));
                }
                return created;
            }

            @Override
            public void gauge(String name, Map<String, String> tags, java.util.function.DoubleSupplier value) {
                tags.keySet().forEach(MetricGroup::checkName);
                gauges.put(new GaugeKey(operatorUid, subtask, MetricGroup.checkName(name),
                        new java.util.TreeMap<>(tags)), java.util.Objects.requireNonNull(value, "value"));
            }
        };
    }

    /** Every gauge registered so far. */
    public java.util.Set<GaugeKey> gaugeKeys() {
        return java.util.Set.copyOf(gauges.keySet());
    }

    /** The current value of a gauge (its latest supplier), NaN when unknown. */
    public double gaugeValue(GaugeKey key) {
        java.util.function.DoubleSupplier s = gauges.get(key);
        if (s == null) {
            return Double.NaN;
        }
        try {
            return s.getAsDouble();
        } catch (RuntimeException e) {
            return Double.NaN;
        }
    }

    /** One counter of one operator subtask. */
    public record Entry(String operatorUid, int subtask, String name, Counter counter) {
    }

    /** Every counter, one entry per operator subtask and name. */
    public java.util.List<Entry> entries() {
        java.util.List<Entry> all = new java.util.ArrayList<>();
        counters.forEach((k, c) -> all.add(new Entry(k.operatorUid(), k.subtask(), k.name(), c)));
        return all;
    }

    /** Every gauge's known values summed over subtasks and tags, as {@code <operator uid>.<name>}, sorted by that name. */
    public Map<String, Double> gaugeSums() {
        Map<String, Double> sums = new TreeMap<>();
        for (GaugeKey key : gaugeKeys()) {
            double v = gaugeValue(key);
            if (!Double.isNaN(v)) {
                sums.merge(key.operatorUid() + "." + key.name(), v, Double::sum);
            }
        }
        return sums;
    }

    /** Every counter summed over subtasks, as {@code <operator uid>.<name>}, sorted by that name. */
    public Map<String, Long> sums() {
        Map<String, Long> sums = new TreeMap<>();
        counters.forEach((k, c) -> sums.merge(k.operatorUid() + "." + k.name(), c.getCount(), Long::sum));
        return sums;
    }
}
