package io.onceflow.runtime.restart;

import io.onceflow.api.RestartStrategies;
import io.onceflow.runtime.Clock;

/**
 * Decides, failure by failure, whether a job restarts and after how long. One instance per job run;
 * {@link #notifyFailure} is called for every failure, then {@link #canRestart} and
 * {@link #getBackoffMillis} are asked.
 */
public interface RestartBackoff {

    void notifyFailure(Throwable cause);

    boolean canRestart();

    long getBackoffMillis();

    static RestartBackoff create(RestartStrategies.RestartStrategy strategy, Clock clock) {
        if (strategy instanceof RestartStrategies.NoRestart) {
            return new NoRestartBackoff();
        } else if (strategy instanceof RestartStrategies.FixedDelay f) {
            return new FixedDelayBackoff(f.attempts(), f.delay().toMillis());
        } else if (strategy instanceof RestartStrategies.FailureRate f) {
            return new FailureRateBackoff(f.maxFailures(), f.interval().toMillis(), f.delay().toMillis(), clock);
        } else if (strategy instanceof RestartStrategies.ExponentialDelay e) {
            return new ExponentialDelayBackoff(e.initial().toMillis(), e.max().toMillis(), e.multiplier(),
                    e.resetAfter().toMillis(), clock);
        }
        throw new IllegalArgumentException("Unknown restart strategy " + strategy);
    }

    /** Never restarts. */
    final class NoRestartBackoff implements RestartBackoff {
        @Override
        public void notifyFailure(Throwable cause) {
        }

        @Override
        public boolean canRestart() {
            return false;
        }

        @Override
        public long getBackoffMillis() {
            return 0;
        }

        @Override
        public String toString() {
            return "no restart";
        }
    }

    /** Restarts up to N times, each after the same delay. */
    final class FixedDelayBackoff implements RestartBackoff {
        private final int maxAttempts;
        private final long delay;
        private int attempts;

        FixedDelayBackoff(int maxAttempts, long delay) {
            this.maxAttempts = maxAttempts;
            this.delay = delay;
        }

        @Override
        public void notifyFailure(Throwable cause) {
            attempts++;
        }

        @Override
        public boolean canRestart() {
            return attempts <= maxAttempts;
        }

        @Override
        public long getBackoffMillis() {
            return delay;
        }

        @Override
        public String toString() {
            return "fixed delay (" + maxAttempts + " attempts, " + delay + " ms)";
        }
    }

    /** Restarts unless the last N failures all fell within the interval. */
    final class FailureRateBackoff implements RestartBackoff {
        private final int maxFailures;
        private final long interval;
        private final long delay;
        private final Clock clock;
        private final java.util.ArrayDeque<Long> failures = new java.util.ArrayDeque<>();

        FailureRateBackoff(int maxFailures, long interval, long delay, Clock clock) {
            this.maxFailures = maxFailures;
            this.interval = interval;
            this.delay = delay;
            this.clock = clock;
        }

        @Override
        public void notifyFailure(Throwable cause) {
            if (failures.size() == maxFailures) {
                failures.poll();
            }
            failures.add(clock.millis());
        }

        @Override
        public boolean canRestart() {
            if (failures.size() < maxFailures) {
                return true;
            }
            return clock.millis() - failures.peek() > interval;
        }

        @Override
        public long getBackoffMillis() {
            return delay;
        }

        @Override
        public String toString() {
            return "failure rate (" + maxFailures + " per " + interval + " ms, delay " + delay + " ms)";
        }
    }

    /** Always restarts, with a delay growing by a multiplier up to a maximum, reset after a quiet period. */
    final class ExponentialDelayBackoff implements RestartBackoff {
        private final long initial;
        private final long max;
        private final double multiplier;
        private final long resetAfter;
        private final Clock clock;
        private long current;
        private long lastFailure = Long.MIN_VALUE;

        ExponentialDelayBackoff(long initial, long max, double multiplier, long resetAfter, Clock clock) {
            this.initial = initial;
            this.max = max;
            this.multiplier = multiplier;
            this.resetAfter = resetAfter;
            this.clock = clock;
        }

        @Override
        public void notifyFailure(Throwable cause) {
            long now = clock.millis();
            if (lastFailure == Long.MIN_VALUE || now - lastFailure >= resetAfter + current) {
                current = initial;
            } else {
                current = Math.min(max, (long) Math.ceil(current * multiplier));
            }
            lastFailure = now;
        }

        @Override
        public boolean canRestart() {
            return true;
        }

        @Override
        public long getBackoffMillis() {
            return current;
        }

        @Override
        public String toString() {
            return "exponential delay (" + initial + " ms to " + max + " ms, x" + multiplier + ")";
        }
    }
}
