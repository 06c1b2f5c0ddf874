package io.onceflow.api.metrics;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongConsumer;

/**
 * A distribution of durations in milliseconds (a commit's latency, say): count, sum and maximum here, and
 * on a metrics endpoint a Prometheus histogram ({@code onceflow_operator_<name>_seconds_bucket}) to take
 * quantiles from. Safe to record from any thread.
 */
public final class Histogram {
    private final LongAdder count = new LongAdder();
    private final LongAdder sum = new LongAdder();
    private final AtomicLong max = new AtomicLong();
    private volatile LongConsumer forward = v -> {
    };

    /** Records one duration, in milliseconds. */
    public void record(long millis) {
        long v = Math.max(0, millis);
        count.increment();
        sum.add(v);
        max.accumulateAndGet(v, Math::max);
        forward.accept(v);
    }

    public long getCount() {
        return count.sum();
    }

    /** The sum of every recorded duration, in milliseconds. */
    public long getSum() {
        return sum.sum();
    }

    /** The longest recorded duration, in milliseconds (0 before the first). */
    public long getMax() {
        return max.get();
    }

    /** For a metrics endpoint: hands every value recorded from now on to {@code listener} too. */
    public void forwardTo(LongConsumer listener) {
        this.forward = listener;
    }
}
