package io.onceflow.api;

import java.time.Duration;
import java.util.Objects;

/**
 * The restart strategies a job can use after a failure. When none is set, a job with checkpointing
 * enabled uses {@link #exponentialDelay(Duration, Duration, double, Duration)} with 1 s initial delay,
 * 1 min maximum, multiplier 2 and reset after 1 h; a job without checkpointing does not restart.
 */
public final class RestartStrategies {

    private RestartStrategies() {
    }

    /** Configuration of a restart strategy; the runtime creates a fresh decision-maker from it per job run. */
    public sealed interface RestartStrategy permits NoRestart, FixedDelay, FailureRate, ExponentialDelay {
    }

    /** Never restart: the first failure fails the job. */
    public record NoRestart() implements RestartStrategy {
    }

    /** Restart up to {@code attempts} times, waiting {@code delay} before each restart. */
    public record FixedDelay(int attempts, Duration delay) implements RestartStrategy {
        public FixedDelay {
            if (attempts < 0) {
                throw new IllegalArgumentException("Restart attempts must not be negative, was " + attempts);
            }
            requireNonNegative(delay, "restart delay");
        }
    }

    /**
     * Restart after {@code delay} unless {@code maxFailures} failures happened within {@code interval};
     * then fail the job.
     */
    public record FailureRate(int maxFailures, Duration interval, Duration delay) implements RestartStrategy {
        public FailureRate {
            if (maxFailures < 1) {
                throw new IllegalArgumentException("Max failures per interval must be at least 1, was " + maxFailures);
            }
            requireNonNegative(interval, "failure-rate interval");
            if (interval.isZero()) {
                throw new IllegalArgumentException("Failure-rate interval must be longer than 0");
            }
            requireNonNegative(delay, "restart delay");
        }
    }

    /**
     * Restart always, waiting {@code initial} after the first failure and multiplying the wait by
     * {@code multiplier} after each further one, up to {@code max}. After {@code resetAfter} without a
     * failure the wait goes back to {@code initial}.
     */
    public record ExponentialDelay(Duration initial, Duration max, double multiplier, Duration resetAfter)
            implements RestartStrategy {
        public ExponentialDelay {
            requireNonNegative(initial, "initial restart delay");
            requireNonNegative(max, "max restart delay");
            requireNonNegative(resetAfter, "reset-after");
            if (max.compareTo(initial) < 0) {
                throw new IllegalArgumentException("Max restart delay " + max + " is shorter than the initial delay "
                        + initial + ": make it at least as long");
            }
            if (!(multiplier >= 1.0)) {
                throw new IllegalArgumentException("Backoff multiplier must be at least 1.0, was " + multiplier);
            }
        }
    }

    public static RestartStrategy noRestart() {
        return new NoRestart();
    }

    public static RestartStrategy fixedDelay(int attempts, Duration delay) {
        return new FixedDelay(attempts, delay);
    }

    public static RestartStrategy failureRate(int maxFailuresPerInterval, Duration interval, Duration delay) {
        return new FailureRate(maxFailuresPerInterval, interval, delay);
    }

    public static RestartStrategy exponentialDelay(Duration initial, Duration max, double multiplier, Duration resetAfter) {
        return new ExponentialDelay(initial, max, multiplier, resetAfter);
    }

    static RestartStrategy defaultFor(boolean checkpointingEnabled) {
        return checkpointingEnabled
                ? exponentialDelay(Duration.ofSeconds(1), Duration.ofMinutes(1), 2.0, Duration.ofHours(1))
                : noRestart();
    }

    private static void requireNonNegative(Duration d, String what) {
        Objects.requireNonNull(d, what);
        if (d.isNegative()) {
            throw new IllegalArgumentException("The " + what + " must not be negative, was " + d);
        }
    }
}
