package io.onceflow.runtime.metrics;

import io.onceflow.api.metrics.Histogram;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * End-to-end latency of a job: from an input record's timestamp (a Kafka record's, given by its source) to
 * the moment the output it led to became visible — the commit, at a committing sink, of the checkpoint
 * whose barrier came after the record.
 *
 * <p>Records carry no timestamp through the operators; the checkpoint does the bookkeeping instead. A source
 * subtask counts its records' timestamps in 10 ms buckets and seals them under the checkpoint its next
 * barrier belongs to: everything a record caused downstream is in that checkpoint's output. When every
 * subtask of a committing sink has committed checkpoint {@code n}, each sealed bucket of checkpoints up to
 * {@code n} is recorded in the sink's histogram as {@code commit time - bucket time}, weighted by its
 * count — sampled down to about {@value #SAMPLES_PER_CHECKPOINT} values per checkpoint, so the quantiles
 * hold and the cost does not grow with the rate. One instance per job, across its restarts.
 */
public final class EndToEndLatency {
    static final long BUCKET_MILLIS = 10;
    static final int SAMPLES_PER_CHECKPOINT = 2_000;
    /** Sealed checkpoints kept for sinks that have not committed them yet. */
    private static final int RETAINED = 100;

    /** The timestamps one source subtask saw since its last barrier. Used by that subtask's thread only. */
    public final class Source {
        private final Map<Long, long[]> current = new HashMap<>();
        // the bucket records are arriving in now: timestamps mostly come in order, so the map is touched
        // only when the bucket changes, not once per record
        private long bucket = -1;
        private long inBucket;

        /** One input record's timestamp, in epoch milliseconds; negative ones (unknown) are left out. */
        public void record(long timestampMillis) {
            if (timestampMillis < 0) {
                return;
            }
            long b = timestampMillis - timestampMillis % BUCKET_MILLIS;
            if (b != bucket) {
                flushBucket();
                bucket = b;
            }
            inBucket++;
        }

        private void flushBucket() {
            if (inBucket > 0) {
                current.computeIfAbsent(bucket, k -> new long[1])[0] += inBucket;
                inBucket = 0;
            }
        }

        /** At the barrier of {@code checkpointId}: what was seen before it belongs to that checkpoint. */
        public void seal(long checkpointId) {
            flushBucket();
            if (current.isEmpty()) {
                return;
            }
            synchronized (EndToEndLatency.this) {
                Map<Long, Long> buckets = sealed.computeIfAbsent(checkpointId, id -> new HashMap<>());
                current.forEach((bucket, n) -> buckets.merge(bucket, n[0], Long::sum));
                while (sealed.size() > RETAINED) {
                    sealed.pollFirstEntry();
                }
            }
            current.clear();
        }
    }

    private final TreeMap<Long, Map<Long, Long>> sealed = new TreeMap<>();
    /** Per sink operator: how many of its subtasks committed each checkpoint, and the last one recorded. */
    private final Map<String, TreeMap<Long, Integer>> commits = new HashMap<>();
    private final Map<String, Long> recordedUpTo = new HashMap<>();
    private long random = 0x9E3779B97F4A7C15L;

    /** The recorder of one source subtask. */
    public Source source() {
        return new Source();
    }

    /**
     * Sink subtask of {@code sinkUid} (one of {@code parallelism}) committed {@code checkpointId} at
     * {@code nowMillis}; once all its subtasks did, the checkpoint's latencies go into {@code histogram}.
     */
    public synchronized void committed(String sinkUid, int parallelism, long checkpointId, long nowMillis,
                                       Histogram histogram) {
        long from = recordedUpTo.getOrDefault(sinkUid, Long.MIN_VALUE);
        if (checkpointId <= from) {
            // a restart commits the restored committables again, of checkpoints recorded before it
            return;
        }
        TreeMap<Long, Integer> byCheckpoint = commits.computeIfAbsent(sinkUid, s -> new TreeMap<>());
        int done = byCheckpoint.merge(checkpointId, 1, Integer::sum);
        if (done < parallelism) {
            return;
        }
        byCheckpoint.headMap(checkpointId, true).clear();
        for (Map.Entry<Long, Map<Long, Long>> e : sealed.subMap(from, false, checkpointId, true).entrySet()) {
            record(e.getValue(), nowMillis, histogram);
        }
        recordedUpTo.put(sinkUid, checkpointId);
    }

    private void record(Map<Long, Long> buckets, long nowMillis, Histogram histogram) {
        long total = 0;
        for (long n : buckets.values()) {
            total += n;
        }
        double keep = Math.min(1.0, (double) SAMPLES_PER_CHECKPOINT / total);
        for (Map.Entry<Long, Long> b : buckets.entrySet()) {
            // each record is kept with probability 'keep': the expected share of every bucket stays the same
            double expected = b.getValue() * keep;
            long times = (long) expected + (nextDouble() < expected - (long) expected ? 1 : 0);
            long latency = Math.max(0, nowMillis - b.getKey() - BUCKET_MILLIS / 2);
            for (long i = 0; i < times; i++) {
                histogram.record(latency);
            }
        }
    }

    /** A cheap deterministic generator: sampling needs no cryptographic randomness. */
    private double nextDouble() {
        random ^= random << 13;
        random ^= random >>> 7;
        random ^= random << 17;
        return (random >>> 11) * 0x1.0p-53;
    }
}
