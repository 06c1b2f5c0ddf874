package io.onceflow.runtime.state;

import io.onceflow.api.serialization.Serializers;
import io.onceflow.runtime.storage.UnsynchronizedBufferedOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * What writing the heap backend's state costs per entry: a checkpoint's delta (the map's log of the keys a version
 * wrote) and the whole state (a base), each entry serialized as the backend writes it (key group, key, value; into a
 * buffered stream that discards what it is given), once visiting the entries one by one and once loading a group of
 * them ahead of the visitor ({@link CopyOnWriteStateMap#TOUCH_AHEAD}), on the same snapshots, the order alternating.
 * The map is built as a running job builds it: words first seen in random order between other allocations, every
 * interval a random share of them counted again (a new boxed count each), so that entries, keys and counts lie all
 * over the heap. Between two measured writes the caches are flushed by walking an array larger than them, as the
 * task's own work does between two checkpoints. Prints the writing thread's CPU time per entry and the ratios, median
 * over the intervals. Run with
 * {@code mvn -q -pl framework test-compile exec:java -Dexec.classpathScope=test
 * -Dexec.mainClass=io.onceflow.runtime.state.StateWriteBenchmark} (optional arguments: vocabulary, share of it
 * written per interval in percent; default 50,000 and 60, about one subtask's delta at 1 s checkpoints in the
 * comparison benchmark's latency run).
 */
public final class StateWriteBenchmark {

    private static final int INTERVALS = 40;
    private static final int WARM_UP = 10;
    private static final int MAX_PARALLELISM = 128;

    /** Walked between two measured writes: larger than any cache of the machine. */
    private static final byte[] FLUSH = new byte[128 << 20];

    private StateWriteBenchmark() {
    }

    public static void main(String[] args) throws IOException {
        int vocabulary = args.length > 0 ? Integer.parseInt(args[0]) : 50_000;
        int percent = args.length > 1 ? Integer.parseInt(args[1]) : 60;
        System.out.printf(Locale.ROOT, "State write benchmark: %,d words, %d %% of them written per interval, %d "
                + "intervals (%d more to warm up)%n", vocabulary, percent, INTERVALS, WARM_UP);
        Random random = new Random(23);
        List<Object> garbage = new ArrayList<>();
        List<String> words = new ArrayList<>();
        for (int i = 0; i < vocabulary; i++) {
            words.add("w" + Integer.toString(random.nextInt(Integer.MAX_VALUE), 36));
        }
        CopyOnWriteStateMap<String, Long> map = new CopyOnWriteStateMap<>(true);
        Collections.shuffle(words, random);
        for (String word : words) {
            map.put(new String(word), 1L + random.nextInt(1000)); // the key a record brought, allocated then
            garbage.add(new byte[32 + random.nextInt(96)]); // what else a task allocates meanwhile
        }
        garbage.clear();
        CopyOnWriteStateMap.Snapshot<String, Long> before = map.snapshot();
        // per interval, CPU ns per entry: [delta, whole state][one by one, loaded ahead]
        double[][][] perEntry = new double[2][2][INTERVALS];
        long entries = 0;
        for (int interval = -WARM_UP; interval < INTERVALS; interval++) {
            Collections.shuffle(words, random);
            int written = words.size() * percent / 100;
            for (int i = 0; i < written; i++) {
                String word = words.get(i);
                map.put(word, map.get(word) + 1 + random.nextInt(3)); // a count past the boxed cache, new each time
                garbage.add(new byte[32 + random.nextInt(96)]);
            }
            garbage.clear();
            CopyOnWriteStateMap.Snapshot<String, Long> after = map.snapshot();
            for (int k = 0; k < 4; k++) {
                int step = (interval & 1) == 0 ? k : 3 - k; // the order alternates between intervals
                boolean whole = step >= 2;
                boolean ahead = (step & 1) == 1;
                double cpu = write(before, after, whole, ahead ? CopyOnWriteStateMap.TOUCH_AHEAD : 1);
                if (interval >= 0) {
                    perEntry[whole ? 1 : 0][ahead ? 1 : 0][interval] = cpu / (whole ? after.size() : written);
                }
            }
            if (interval >= 0) {
                entries += written;
            }
            CopyOnWriteStateMap.forgetBefore(after);
            before.release();
            after.release();
            before = after;
        }
        System.out.println();
        System.out.println("| write | entries | CPU ns per entry, one by one | " + CopyOnWriteStateMap.TOUCH_AHEAD
                + " loaded ahead | ratio |");
        System.out.println("| --- | --- | ---: | ---: | ---: |");
        for (int whole = 0; whole < 2; whole++) {
            double[] a = perEntry[whole][0];
            double[] b = perEntry[whole][1];
            Arrays.sort(a);
            Arrays.sort(b);
            System.out.printf(Locale.ROOT, "| %s | %,d per interval | %.0f (%.0f-%.0f) | %.0f (%.0f-%.0f) | %.2f |%n",
                    whole == 0 ? "delta (a checkpoint)" : "whole state (a base)",
                    whole == 0 ? entries / INTERVALS : vocabulary, a[INTERVALS / 2], a[0], a[INTERVALS - 1],
                    b[INTERVALS / 2], b[0], b[INTERVALS - 1], b[INTERVALS / 2] / a[INTERVALS / 2]);
        }
        System.out.println("(median (min-max) over the intervals)");
    }

    /**
     * Writes the delta between the two (or, {@code whole}, all of {@code after}) as the heap backend does; returns the
     * CPU nanoseconds it took.
     */
    private static double write(CopyOnWriteStateMap.Snapshot<String, Long> before,
                                CopyOnWriteStateMap.Snapshot<String, Long> after, boolean whole, int touchAhead)
            throws IOException {
        for (int i = 0; i < FLUSH.length; i += 64) {
            FLUSH[i]++;
        }
        ReusableBytes entry = new ReusableBytes(128);
        DataOutputStream out = new DataOutputStream(
                new UnsynchronizedBufferedOutputStream(OutputStream.nullOutputStream(), 64 * 1024));
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long cpu = threads.getCurrentThreadCpuTime();
        if (whole) {
            after.forEach((key, value) -> {
                try {
                    writeEntry(out, entry, key, value);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }, touchAhead);
        } else {
            CopyOnWriteStateMap.diff(before, after, new CopyOnWriteStateMap.DiffVisitor<>() {
                @Override
                public void changed(String key, Long value) throws IOException {
                    writeEntry(out, entry, key, value);
                }

                @Override
                public void removed(String key) {
                    throw new IllegalStateException("nothing is removed here");
                }
            }, touchAhead);
        }
        out.flush();
        return threads.getCurrentThreadCpuTime() - cpu;
    }

    /** One entry as the heap backend's checkpoint writes it. */
    private static void writeEntry(DataOutputStream out, ReusableBytes entry, String key, Long value)
            throws IOException {
        SubtaskStateFormat.writeKeyedEntry(out, entry, 0, KeyGroups.keyGroupFor(key, MAX_PARALLELISM),
                Serializers.STRING, key, Serializers.LONG, value);
    }
}
