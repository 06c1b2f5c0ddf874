package io.onceflow.kafka.sink.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;

class TransactionalIdPoolTest {
    @Test
    void reusesTheLowestFreeCounter() {
        TransactionalIdPool pool = new TransactionalIdPool("sink", 3);
        assertEquals("sink-3-0", pool.acquire());
        assertEquals("sink-3-1", pool.acquire());
        assertEquals("sink-3-2", pool.acquire());
        pool.release("sink-3-1");
        assertEquals("sink-3-1", pool.acquire());
        pool.release("sink-3-0");
        pool.release("sink-3-2");
        assertEquals(Set.of("sink-3-1"), pool.inUse());
        assertEquals("sink-3-0", pool.acquire());
        assertEquals("sink-3-2", pool.acquire());
    }

    @Test
    void staysBoundedOverManyCheckpoints() {
        // one open transaction plus up to two pre-committed ones waiting for their checkpoint to complete
        TransactionalIdPool pool = new TransactionalIdPool("sink", 0);
        java.util.ArrayDeque<String> pending = new java.util.ArrayDeque<>();
        String open = pool.acquire();
        Set<String> seen = new java.util.HashSet<>();
        for (int checkpoint = 0; checkpoint < 10_000; checkpoint++) {
            pending.add(open);
            open = pool.acquire();
            seen.add(open);
            if (pending.size() > 2) {
                pool.release(pending.poll()); // the oldest checkpoint completed, its transaction committed
            }
        }
        assertEquals(Set.of("sink-0-0", "sink-0-1", "sink-0-2", "sink-0-3"), seen);
    }

    @Test
    void restoredIdsAreMarkedInUse() {
        TransactionalIdPool pool = new TransactionalIdPool("p", 1);
        pool.markInUse("p-1-0");
        pool.markInUse("p-1-2");
        assertEquals("p-1-1", pool.acquire());
        assertEquals("p-1-3", pool.acquire());
        assertTrue(pool.isInUse("p-1-2"));
        assertThrows(IllegalArgumentException.class, () -> pool.markInUse("p-2-0"));
        assertThrows(IllegalArgumentException.class, () -> pool.markInUse("q-1-0"));
        assertThrows(IllegalStateException.class, () -> pool.release("p-1-4"));
    }

    @Test
    void failsWhenExhausted() {
        TransactionalIdPool pool = new TransactionalIdPool("p", 0, 2);
        pool.acquire();
        pool.acquire();
        assertThrows(IllegalStateException.class, pool::acquire);
    }

    @Test
    void parsesOnlyIdsOfTheExactPrefix() {
        assertEquals(Optional.of(new TransactionalIdPool.Parsed(1, 0)), TransactionalIdPool.parse("a-b-1-0", "a-b"));
        assertEquals(Optional.of(new TransactionalIdPool.Parsed(12, 345)), TransactionalIdPool.parse("x-12-345", "x"));
        for (String notOurs : List.of("a-b-1-0-0", "a-bx-1-0", "a-b-1", "a-b-1-", "a-b--1-0", "a-b-01-0", "a-b-1-x",
                "a-b-+1-0", "a-b")) {
            assertFalse(TransactionalIdPool.parse(notOurs, "a-b").isPresent(), notOurs);
        }
    }

    @Test
    void escapesThePrefixForTheBrokersFilter() {
        String prefix = "my.sink (v2)*+?[x]{1}|^$\\_-";
        String regex = LingeringTransactionAborter.escape(prefix) + "-[0-9]+-[0-9]+";
        assertTrue(Pattern.matches(regex, prefix + "-0-12"));
        assertFalse(Pattern.matches(regex, "my-sink (v2)*+?[x]{1}|^$\\_--0-12"));
    }
}
