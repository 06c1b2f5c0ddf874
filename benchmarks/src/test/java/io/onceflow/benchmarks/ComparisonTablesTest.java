package io.onceflow.benchmarks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The tables' figures against the raw transactional loop's of the same round: each run is paired with the loop's
 * run of its own round, not with the loop's median, so a round on a slower machine compares with a loop as slow.
 */
class ComparisonTablesTest {

    private static Comparison.Settings settings(List<BenchSystem> systems) {
        return new Comparison.Settings(1_000, 100, 3, 1_000, 2, systems, 4, Duration.ofMinutes(1), List.of());
    }

    private static Comparison.Run run(BenchSystem system, int round, boolean exact, double allOutput) {
        return new Comparison.Run(system, round, exact, "", 0.5, 1.0, allOutput, 1_000, 1, Comparison.JvmCpu.NONE, 1,
                100, null);
    }

    private static Comparison.Latency latency(BenchSystem system, int round, double p99) {
        return new Comparison.Latency(system, round, 1_000, 100, p99 / 2, p99, p99 + 50, true, "", null, null);
    }

    @Test
    void theBusiestThreadsAreNamedWithHowManyShareTheName() {
        Comparison.JvmCpu cpu = new Comparison.JvmCpu(4.0, 1.0, 9.5, List.of(
                new Comparison.ThreadCpu("onceflow proces", 2, 6.75), new Comparison.ThreadCpu("main", 1, 1.5),
                new Comparison.ThreadCpu("kafka-producer-", 8, 1.25)));
        assertEquals("\"onceflow proces\" ×2 6.8 s, \"main\" 1.5 s", cpu.busiest(2));
        assertEquals(3, cpu.busiest(5).split(", ").length);
    }

    @Test
    void throughputIsComparedWithTheLoopOfTheSameRound() {
        BenchSystem loop = BenchSystem.RAW_TRANSACTIONAL;
        BenchSystem onceflow = BenchSystem.ONCEFLOW_EXACTLY_ONCE;
        // the loop's rounds differ by twice as much as Onceflow's pairs do: the medians' ratio, 8.4 / 8.0, is 1.05
        // by chance; the rounds' own ratios are 1.10, 1.05 and 1.02
        List<Comparison.Run> runs = List.of(run(loop, 1, true, 5.0), run(onceflow, 1, true, 5.5),
                run(loop, 2, true, 8.0), run(onceflow, 2, true, 8.4),
                run(loop, 3, true, 10.0), run(onceflow, 3, true, 10.2));
        Comparison.Input input = new Comparison.Input("in", 1_000, 3_000, Map.of());
        String table = Comparison.table(settings(List.of(loop, onceflow)), input, runs);
        assertTrue(table.contains("| all output s | all output ÷ raw tx loop's | words/s |"), table);
        assertTrue(table.contains("| " + onceflow.label() + " | 3/3 | 0.5 (0.5-0.5) | 1.0 (1.0-1.0) | 8.4 (5.5-10.2) | "
                + "1.05 (1.02-1.10) |"), table);
        assertTrue(table.contains("| " + loop.label() + " | 3/3 | 0.5 (0.5-0.5) | 1.0 (1.0-1.0) | 8.0 (5.0-10.0) "
                + "| - |"), table);
    }

    @Test
    void eachSystemRunsRightAfterEveryOtherEquallyOftenOverABalancedSetOfRounds() {
        BenchSystem a = BenchSystem.RAW_TRANSACTIONAL;
        BenchSystem b = BenchSystem.ONCEFLOW_EXACTLY_ONCE;
        BenchSystem c = BenchSystem.FLINK_EXACTLY_ONCE;
        // the default list, under which a rotation ran Onceflow AT_LEAST_ONCE right after EXACTLY_ONCE in each round
        // but one
        List<BenchSystem> all = Arrays.stream(BenchSystem.values()).filter(BenchSystem::byDefault).toList();
        assertEquals(6, all.size());
        assertEquals(all.get(0), Comparison.roundOrder(all, 1).get(0));
        for (int n = 1; n <= all.size(); n++) {
            List<BenchSystem> given = all.subList(0, n);
            int rounds = n % 2 == 0 ? n : 2 * n;
            Map<List<BenchSystem>, Integer> pairs = new HashMap<>();
            for (int round = 1; round <= rounds; round++) {
                List<BenchSystem> order = Comparison.roundOrder(given, round);
                assertEquals(Set.copyOf(given), Set.copyOf(order), "round " + round + " runs each system once");
                assertEquals(n, order.size());
                for (int i = 1; i < n; i++) {
                    pairs.merge(List.of(order.get(i - 1), order.get(i)), 1, Integer::sum);
                }
                assertEquals(order, Comparison.roundOrder(given, round + rounds), "the orders repeat after the set");
            }
            assertEquals(n * (n - 1), pairs.size(), n + " systems: every ordered pair side by side " + pairs);
            int each = rounds / n; // rounds × (n - 1) neighbours over n × (n - 1) ordered pairs
            assertTrue(pairs.values().stream().allMatch(k -> k == each),
                    n + " systems: every pair " + each + " times " + pairs);
        }
        // within the default three rounds no system follows the same one twice
        for (BenchSystem s : all) {
            Set<BenchSystem> before = new HashSet<>();
            int followed = 0;
            for (int round = 1; round <= 3; round++) {
                List<BenchSystem> order = Comparison.roundOrder(all, round);
                int at = order.indexOf(s);
                if (at > 0) {
                    before.add(order.get(at - 1));
                    followed++;
                }
            }
            assertEquals(followed, before.size(), s + " ran after the same system twice");
        }
        assertEquals(List.of(a, b, c), Comparison.roundOrder(List.of(a, b, c), 1));
        assertEquals(List.of(b, a), Comparison.roundOrder(List.of(a, b), 2));
        assertEquals(List.of(a), Comparison.roundOrder(List.of(a), 2));
    }

    @Test
    void aRoundWithoutAnExactLoopRunIsLeftOutOfThePairs() {
        BenchSystem loop = BenchSystem.RAW_TRANSACTIONAL;
        BenchSystem onceflow = BenchSystem.ONCEFLOW_EXACTLY_ONCE;
        List<Comparison.Run> runs = List.of(run(loop, 1, false, 1.0), run(onceflow, 1, true, 5.5),
                run(loop, 2, true, 8.0), run(onceflow, 2, true, 8.8));
        Comparison.Input input = new Comparison.Input("in", 1_000, 3_000, Map.of());
        String table = Comparison.table(settings(List.of(loop, onceflow)), input, runs);
        assertTrue(table.contains("| 7.2 (5.5-8.8) | 1.10 |"), "only round 2 is a pair: " + table);
    }

    /** The latency table of two rounds of the raw transactional loop (p99 1,060 then 1,150 ms) and {@code other}. */
    private static String latencyAgainstTheLoop(BenchSystem other, long p99Round1, long p99Round2) {
        BenchSystem loop = BenchSystem.RAW_TRANSACTIONAL;
        List<Comparison.Latency> runs = List.of(latency(loop, 1, 1_060), latency(other, 1, p99Round1),
                latency(loop, 2, 1_150), latency(other, 2, p99Round2));
        return Comparison.latencyTable(settings(List.of(loop, other)), runs);
    }

    @Test
    void latencyShowsTheP99OverTheLoopsOfTheSameRound() {
        String table = latencyAgainstTheLoop(BenchSystem.ONCEFLOW_EXACTLY_ONCE, 1_100, 1_160);
        assertTrue(table.contains("| p99 ms | p99 − raw tx loop's ms | max ms |"), table);
        assertTrue(table.contains("| 1130 (1100-1160) | +25 (+10 to +40) |"), table);
    }

    @Test
    void aRangeBelowTheLoopReadsAsARange() {
        String table = latencyAgainstTheLoop(BenchSystem.RAW_AT_LEAST_ONCE, 25, 31);
        assertTrue(table.contains("| 28 (25-31) | -1077 (-1119 to -1035) |"), table);
    }

    private static Comparison.Recovery recovery(BenchSystem system, int round, boolean exact, double toFirst) {
        return new Comparison.Recovery(system, round, exact, 0, 0, "", 15.0, toFirst, 3.0,
                new Comparison.JvmCpu(1.0, 0.1, 1.9, List.of()), 15.0, null);
    }

    @Test
    void aRestartIsComparedWithTheLoopsRestartOfTheSameRound() {
        BenchSystem loop = BenchSystem.RAW_TRANSACTIONAL;
        BenchSystem onceflow = BenchSystem.ONCEFLOW_EXACTLY_ONCE;
        // the loop restores nothing, so its run is not exact, yet it counts: it kept what a raw loop promises
        List<Comparison.Recovery> runs = List.of(recovery(loop, 1, false, 1.20), recovery(onceflow, 1, true, 1.50),
                recovery(loop, 2, false, 2.00), recovery(onceflow, 2, true, 2.50),
                recovery(onceflow, 3, false, 9.00));
        String table = Comparison.recoveryTable(settings(List.of(loop, onceflow)), runs);
        assertTrue(table.contains("| restart to first new output s | restart − raw tx loop's s | job CPU s by then |"),
                table);
        assertTrue(table.contains("| " + loop.label() + " | 2/2 | 15.0 (15.0-15.0) | - | 1.60 (1.20-2.00) | - |"),
                "a raw loop's duplicates are not counted, nor is it paired with itself: " + table);
        assertTrue(table.contains("| " + onceflow.label() + " | 2/3 | 15.0 (15.0-15.0) | 0 (0-0) | 2.00 (1.50-2.50) "
                + "| +0.40 (+0.30 to +0.50) |"), "round 3 did not keep its promise: " + table);
    }

    @Test
    void withoutTheLoopThereIsNoPairedColumn() {
        BenchSystem onceflow = BenchSystem.ONCEFLOW_EXACTLY_ONCE;
        String table = Comparison.latencyTable(settings(List.of(onceflow)), List.of(latency(onceflow, 1, 1_100)));
        assertFalse(table.contains("raw tx loop"), table);
        assertTrue(table.contains("| p99 ms | max ms |"), table);
    }
}
