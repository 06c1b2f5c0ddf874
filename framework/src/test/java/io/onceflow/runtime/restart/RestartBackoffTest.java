package io.onceflow.runtime.restart;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.RestartStrategies;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class RestartBackoffTest {

    private final AtomicLong now = new AtomicLong(1_000_000);
    private final RuntimeException failure = new RuntimeException("boom");

    private RestartBackoff create(RestartStrategies.RestartStrategy s) {
        return RestartBackoff.create(s, now::get);
    }

    @Test
    void noRestartNeverRestarts() {
        RestartBackoff b = create(RestartStrategies.noRestart());
        b.notifyFailure(failure);
        assertFalse(b.canRestart());
    }

    @Test
    void fixedDelayAllowsExactlyTheConfiguredAttempts() {
        RestartBackoff b = create(RestartStrategies.fixedDelay(3, Duration.ofSeconds(10)));
        for (int i = 1; i <= 3; i++) {
            b.notifyFailure(failure);
            assertTrue(b.canRestart(), "restart " + i + " of 3");
            assertEquals(10_000, b.getBackoffMillis());
        }
        b.notifyFailure(failure);
        assertFalse(b.canRestart(), "a fourth failure exceeds 3 attempts");
    }

    @Test
    void failureRateFailsOnlyWhenTooManyFailuresFallInOneInterval() {
        RestartBackoff b = create(RestartStrategies.failureRate(3, Duration.ofMinutes(5), Duration.ofSeconds(2)));
        b.notifyFailure(failure);
        now.addAndGet(60_000);
        b.notifyFailure(failure);
        assertTrue(b.canRestart());
        assertEquals(2_000, b.getBackoffMillis());
        now.addAndGet(60_000);
        b.notifyFailure(failure);
        assertFalse(b.canRestart(), "3 failures within 5 minutes");

        RestartBackoff spread = create(RestartStrategies.failureRate(3, Duration.ofMinutes(5), Duration.ZERO));
        for (int i = 0; i < 10; i++) {
            spread.notifyFailure(failure);
            assertTrue(spread.canRestart(), "failures 3 minutes apart never reach 3 per 5 minutes, failure " + i);
            now.addAndGet(180_000);
        }
    }

    @Test
    void exponentialDelayGrowsToTheMaximumAndResetsAfterAQuietPeriod() {
        RestartBackoff b = create(RestartStrategies.exponentialDelay(Duration.ofSeconds(1), Duration.ofSeconds(10), 2.0,
                Duration.ofMinutes(30)));
        long[] expected = {1_000, 2_000, 4_000, 8_000, 10_000, 10_000};
        for (long e : expected) {
            b.notifyFailure(failure);
            assertTrue(b.canRestart());
            assertEquals(e, b.getBackoffMillis());
            now.addAndGet(b.getBackoffMillis() + 1_000);
        }
        now.addAndGet(Duration.ofMinutes(31).toMillis());
        b.notifyFailure(failure);
        assertEquals(1_000, b.getBackoffMillis(), "30 minutes without failure reset the delay");
    }

    @Test
    void invalidStrategiesAreRejectedWithAReason() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> RestartStrategies.exponentialDelay(Duration.ofSeconds(10), Duration.ofSeconds(1), 2, Duration.ZERO));
        assertTrue(e.getMessage().contains("shorter than the initial delay"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> RestartStrategies.fixedDelay(-1, Duration.ZERO));
        assertThrows(IllegalArgumentException.class, () -> RestartStrategies.failureRate(0, Duration.ofSeconds(1), Duration.ZERO));
    }
}
