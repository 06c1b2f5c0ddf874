package io.onceflow.runtime.state;

import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * What the heap backend's map costs a running count between checkpoints, against a plain {@link HashMap} (the raw
 * loop's state) measured in the same run: one writer thread counts words drawn from a vocabulary into the map, a
 * snapshot is taken every "interval" of updates, and the snapshot is released
 * <ul>
 *   <li>when the next one is taken (as if every snapshot were read until then: each entry is copied at its first
 *       write after a snapshot, which is what the map did before snapshots were released), or</li>
 *   <li>a twentieth of an interval after it was taken (as a checkpoint's write releases it: later writes go into
 *       the entries themselves).</li>
 * </ul>
 * As in a job that has run a while, each map first holds every word, moved to the old generation, and each update
 * looks its word up by a new string equal to the map's key, its hash not yet computed (as a record's key comes).
 * Prints the writer thread's CPU time per update (CPU time rather than wall time: other processes on a small
 * machine do not count), bytes allocated per update (exact, from the thread's allocation counter: what the garbage
 * collector then has to deal with) and the young collections' count and time. Run with
 * {@code mvn -q -pl framework test-compile exec:java -Dexec.classpathScope=test
 * -Dexec.mainClass=io.onceflow.runtime.state.StateMapBenchmark} (optional arguments: vocabulary, updates per
 * interval; default 50,000 and 60,000, about one subtask's share of the comparison benchmark's latency run at 1 s).
 */
public final class StateMapBenchmark {

    private static final int INTERVALS = 60;
    private static final int ROUNDS = 5;
    /** Counts start high, as in a job that has run a while: past the JDK's cache of small boxed numbers. */
    private static final Long FIRST = 1_000_000L;

    private StateMapBenchmark() {
    }

    private enum Mode {
        HASH_MAP("HashMap (no snapshots)"),
        PINNED("copy-on-write, snapshot held to the next one"),
        RELEASED("copy-on-write, snapshot released after its write");

        final String label;

        Mode(String label) {
            this.label = label;
        }
    }

    private record Result(Mode mode, double cpuNanosPerUpdate, double bytesPerUpdate, long collections, long gcMillis) {
    }

    public static void main(String[] args) {
        int vocabulary = args.length > 0 ? Integer.parseInt(args[0]) : 50_000;
        int perInterval = args.length > 1 ? Integer.parseInt(args[1]) : 60_000;
        String[] words = new String[vocabulary];
        for (int i = 0; i < vocabulary; i++) {
            words[i] = "word-" + i;
        }
        System.out.printf(Locale.ROOT, "State map benchmark: %,d words, %,d updates per interval, %d intervals per run, "
                + "%d rounds%n", vocabulary, perInterval, INTERVALS, ROUNDS);
        for (Mode mode : Mode.values()) {
            run(mode, words, perInterval, 10); // warm-up
        }
        List<Result> results = new ArrayList<>();
        for (int round = 0; round < ROUNDS; round++) {
            for (Mode mode : Mode.values()) {
                Result r = run(mode, words, perInterval, INTERVALS);
                System.out.printf(Locale.ROOT, "  round %d %-50s %6.1f CPU ns/update %6.1f B/update%n", round + 1,
                        mode.label, r.cpuNanosPerUpdate(), r.bytesPerUpdate());
                results.add(r);
            }
        }
        System.out.println();
        System.out.println("| map | writer's CPU ns per update | vs HashMap | bytes allocated per update | young collections | their time ms |");
        System.out.println("| --- | ---: | ---: | ---: | ---: | ---: |");
        double baseline = best(results, Mode.HASH_MAP).cpuNanosPerUpdate();
        for (Mode mode : Mode.values()) {
            Result b = best(results, mode);
            System.out.printf(Locale.ROOT, "| %s | %.1f | %.2f | %.1f | %d | %d |%n", mode.label, b.cpuNanosPerUpdate(),
                    b.cpuNanosPerUpdate() / baseline, b.bytesPerUpdate(), b.collections(), b.gcMillis());
        }
        System.out.println("(each row its run with the least CPU time of " + ROUNDS + ", the collections during that "
                + "run; the key and the boxed count are new objects per update in every row)");
    }

    private static Result best(List<Result> results, Mode mode) {
        return results.stream().filter(r -> r.mode() == mode)
                .min(java.util.Comparator.comparingDouble(Result::cpuNanosPerUpdate)).orElseThrow();
    }

    private static Result run(Mode mode, String[] words, int perInterval, int intervals) {
        Random random = new Random(17);
        byte[][] bytes = new byte[words.length][];
        for (int i = 0; i < words.length; i++) {
            bytes[i] = words[i].getBytes(StandardCharsets.ISO_8859_1);
        }
        HashMap<String, Long> plain = new HashMap<>();
        CopyOnWriteStateMap<String, Long> map = new CopyOnWriteStateMap<>();
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        CopyOnWriteStateMap.Snapshot<String, Long> last = null;
        // as in a job that has run a while: every word counted once, the map and its entries in the old generation
        for (String w : words) {
            if (mode == Mode.HASH_MAP) {
                plain.put(w, FIRST);
            } else {
                map.put(w, FIRST);
            }
        }
        if (mode != Mode.HASH_MAP) {
            last = map.snapshot();
            written(last);
        }
        System.gc();
        long[] gcBefore = collections();
        long allocatedBefore = threads.getCurrentThreadAllocatedBytes();
        long cpuBefore = threads.getCurrentThreadCpuTime();
        for (int interval = 0; interval < intervals; interval++) {
            for (int i = 0; i < perInterval; i++) {
                // a record's key is a string of its own (its hash not yet computed), equal to the map's key
                String word = new String(bytes[random.nextInt(bytes.length)], StandardCharsets.ISO_8859_1);
                if (mode == Mode.HASH_MAP) {
                    Long count = plain.get(word);
                    plain.put(word, count == null ? FIRST : count + 1);
                } else {
                    Long count = map.get(word);
                    map.put(word, count == null ? FIRST : count + 1);
                    if (mode == Mode.RELEASED && i == perInterval / 20 && last != null) {
                        written(last);
                    }
                }
            }
            if (mode != Mode.HASH_MAP) {
                if (mode == Mode.PINNED && last != null) {
                    written(last);
                }
                last = map.snapshot();
            }
        }
        long cpu = threads.getCurrentThreadCpuTime() - cpuBefore;
        long allocated = threads.getCurrentThreadAllocatedBytes() - allocatedBefore;
        long[] gcAfter = collections();
        long updates = (long) perInterval * intervals;
        return new Result(mode, (double) cpu / updates, (double) allocated / updates, gcAfter[0] - gcBefore[0],
                gcAfter[1] - gcBefore[1]);
    }

    /** As the heap backend after a checkpoint's write: the next delta is one of this snapshot, nobody reads it. */
    private static void written(CopyOnWriteStateMap.Snapshot<String, Long> snapshot) {
        CopyOnWriteStateMap.forgetBefore(snapshot);
        snapshot.release();
    }

    /** Young collections so far: count and milliseconds. */
    private static long[] collections() {
        long count = 0;
        long millis = 0;
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            if (gc.getName().contains("Young")) {
                count += gc.getCollectionCount();
                millis += gc.getCollectionTime();
            }
        }
        return new long[] {count, millis};
    }
}
