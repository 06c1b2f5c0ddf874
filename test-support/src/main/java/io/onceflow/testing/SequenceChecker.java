package io.onceflow.testing;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Checks running counts per key, independently of the job that produced them: given committed
 * records {@code "<key>,<count>"}, every key's counts must be exactly {@code 1, 2, …, n} with {@code n}
 * the number of inputs of that key. A count seen twice is a duplicate; a count never seen is a loss.
 */
public final class SequenceChecker {

    /** The outcome: counts of duplicates and losses, and a few examples of each. */
    public record Result(long records, long keys, long duplicates, long lost, long unexpected, List<String> examples) {
        public boolean exact() {
            return duplicates == 0 && lost == 0 && unexpected == 0;
        }

        @Override
        public String toString() {
            return records + " records over " + keys + " keys: " + duplicates + " duplicate(s), " + lost
                    + " lost, " + unexpected + " unexpected" + (examples.isEmpty() ? "" : "; e.g. " + examples);
        }
    }

    private SequenceChecker() {
    }

    /**
     * @param committed records {@code "<key>,<count>"}
     * @param expected  how many inputs each key had; keys that never appear in it are unexpected
     */
    public static Result check(List<String> committed, Map<String, Long> expected) {
        Map<String, Map<Long, Integer>> seen = new HashMap<>();
        long unexpected = 0;
        List<String> examples = new ArrayList<>();
        for (String r : committed) {
            int comma = r.lastIndexOf(',');
            if (comma < 0) {
                unexpected++;
                example(examples, "malformed record '" + r + "'");
                continue;
            }
            String key = r.substring(0, comma);
            long count;
            try {
                count = Long.parseLong(r.substring(comma + 1));
            } catch (NumberFormatException e) {
                unexpected++;
                example(examples, "malformed record '" + r + "'");
                continue;
            }
            Long n = expected.get(key);
            if (n == null || count < 1 || count > n) {
                unexpected++;
                example(examples, "unexpected " + key + "=" + count + (n == null ? " (unknown key)" : " (only " + n + " inputs)"));
                continue;
            }
            seen.computeIfAbsent(key, k -> new HashMap<>()).merge(count, 1, Integer::sum);
        }
        long duplicates = 0;
        long lost = 0;
        for (Map.Entry<String, Long> e : new TreeMap<>(expected).entrySet()) {
            Map<Long, Integer> counts = seen.getOrDefault(e.getKey(), Map.of());
            for (long c = 1; c <= e.getValue(); c++) {
                int times = counts.getOrDefault(c, 0);
                if (times == 0) {
                    lost++;
                    example(examples, "lost " + e.getKey() + "=" + c);
                } else if (times > 1) {
                    duplicates += times - 1;
                    example(examples, "duplicate " + e.getKey() + "=" + c + " (x" + times + ")");
                }
            }
        }
        return new Result(committed.size(), expected.size(), duplicates, lost, unexpected, examples);
    }

    /** Expected counts for {@link SequenceSource} output: key {@code "key-k"} occurs that many times. */
    public static Map<String, Long> expectedForSequence(long total, int keys) {
        Map<String, Long> expected = new HashMap<>();
        for (int k = 0; k < keys; k++) {
            expected.put("key-" + k, SequenceSource.expectedCount(total, keys, k));
        }
        return expected;
    }

    private static void example(List<String> examples, String s) {
        if (examples.size() < 10) {
            examples.add(s);
        }
    }
}
