package io.onceflow.api.metrics;

import java.util.concurrent.atomic.AtomicLong;

/**
 * A count that only goes up, such as records sent to a dead-letter topic. Thread-safe. Counters of a
 * job keep counting across its restarts within one process.
 */
public final class Counter {

    private final AtomicLong count = new AtomicLong();

    public void inc() {
        count.incrementAndGet();
    }

    public void inc(long n) {
        if (n < 0) {
            throw new IllegalArgumentException("A counter only goes up, was asked to add " + n);
        }
        count.addAndGet(n);
    }

    public long getCount() {
        return count.get();
    }

    @Override
    public String toString() {
        return Long.toString(count.get());
    }
}
