package io.onceflow.bench;

import com.sun.management.GarbageCollectionNotificationInfo;
import com.sun.management.OperatingSystemMXBean;
import io.onceflow.api.CheckpointStats;
import io.onceflow.api.HeapStateBackend;
import io.onceflow.api.JobClient;
import io.onceflow.api.RestartStrategies;
import io.onceflow.api.RocksDBStateBackend;
import io.onceflow.api.StateBackend;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.api.sink.Sink;
import io.onceflow.api.sink.SinkInitContext;
import io.onceflow.api.sink.SinkWriter;
import io.onceflow.testing.ChildJvm;
import io.onceflow.testing.RunningCount;
import io.onceflow.testing.SequenceSource;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import javax.management.NotificationEmitter;
import javax.management.openmbean.CompositeData;

/**
 * Keyed state at scale, heap against RocksDB (both with incremental checkpoints; {@code heap-full} and
 * {@code rocksdb-full} in {@code -Dbench.backends=heap,heap-full,rocksdb,rocksdb-full} are the two with full
 * ones), each run in a child JVM of its
 * own: a keyed running count over N distinct keys (each key twice) at parallelism 2 with a checkpoint
 * every second. Prints, per backend and key count: throughput, checkpoint duration, full and
 * incremental checkpoint size, the longest pause of a task thread for a checkpoint (p99 and max), the
 * longest garbage-collection pause (which stops every thread, checkpoint or not), peak RSS of the process,
 * and the time a second run takes to restore the final state. {@code -Dbench.jvmOptions="..."} adds options
 * to the children's JVMs (another collector, for instance); {@code -Dbench.restoreParallelism=3} restores at
 * another parallelism than the run's 2, so every subtask reads the key groups it now owns out of others' files.
 *
 * <p>{@code mvn -q -B install -DskipTests && mvn -q -pl test-support exec:java -Dexec.classpathScope=test
 * -Dexec.mainClass=io.onceflow.bench.StateBenchmark -Dexec.args="1000000 10000000"}
 */
public final class StateBenchmark {

    private StateBenchmark() {
    }

    /** Discards everything: the benchmark is about state, not output. */
    static final class Discard implements Sink<String> {
        @Override
        public SinkWriter<String> createWriter(SinkInitContext context) {
            return new SinkWriter<>() {
                @Override
                public void write(String element) {
                }

                @Override
                public void flush(boolean endOfInput) {
                }

                @Override
                public void close() {
                }
            };
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("child")) {
            child(args);
            return;
        }
        List<Long> sizes = new ArrayList<>();
        for (String a : args.length > 0 ? args : new String[] {"1000000", "10000000"}) {
            sizes.add(Long.parseLong(a));
        }
        System.out.printf(Locale.ROOT, "Onceflow state benchmark: keyed running count, parallelism 2, 1 s checkpoints, %d cores%n",
                Runtime.getRuntime().availableProcessors());
        List<String> rows = new ArrayList<>();
        for (long keys : sizes) {
            for (String backend : System.getProperty("bench.backends", "heap,rocksdb").split(",")) {
                rows.add(runChild(backend, keys));
            }
        }
        System.out.println();
        System.out.printf(Locale.ROOT, "%-9s %11s %12s %10s %10s %12s %12s %10s %10s %10s %9s %9s%n", "backend",
                "keys", "records/s", "chk p50 ms", "chk max ms", "full MB", "incr MB", "pause p99", "pause max",
                "gc max ms", "RSS MB", "restore s");
        rows.forEach(System.out::println);
        System.out.println("(chk = checkpoint duration; full/incr = size of the last checkpoint, all of it and what it "
                + "wrote itself; pause = a task thread's synchronous checkpoint part, in ms; gc max = the longest "
                + "garbage-collection pause of the run; restore = a second run restoring the final state)");
    }

    /** Enough heap for the heap backend's keys and a snapshot's copies, but no more than 3/4 of the machine. */
    private static long heapGigabytes(long keys) {
        long machine = ((OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getTotalMemorySize() >> 30;
        return Math.max(2, Math.min(keys / 1_500_000 + 2, machine * 3 / 4));
    }

    private static String runChild(String backend, long keys) throws Exception {
        Path dir = Files.createTempDirectory("onceflow-state-bench-");
        try {
            List<String> options = new ArrayList<>();
            options.add(backend.startsWith("heap") ? "-Xmx" + heapGigabytes(keys) + "g" : "-Xmx1g");
            options.add("-Dbench.writeBuffer=" + Long.getLong("bench.writeBuffer", 0));
            options.add("-Dbench.restoreParallelism=" + Integer.getInteger("bench.restoreParallelism", 2));
            for (String o : System.getProperty("bench.jvmOptions", "").trim().split("\\s+")) {
                if (!o.isEmpty()) {
                    options.add(o);
                }
            }
            List<String> out = new ArrayList<>();
            for (String phase : List.of("run", "restore")) {
                Process p = ChildJvm.of(StateBenchmark.class, options, "child", phase, backend, Long.toString(keys),
                        dir.toString()).redirectErrorStream(true).start();
                String text = new String(p.getInputStream().readAllBytes());
                p.waitFor(60, TimeUnit.MINUTES);
                String result = text.lines().filter(l -> l.startsWith("RESULT ")).findFirst()
                        .orElseThrow(() -> new IllegalStateException(backend + " " + keys + " " + phase + " failed:\n"
                                + text.lines().skip(Math.max(0, text.lines().count() - 30)).reduce("", (a, b) -> a + "\n" + b)));
                out.add(result.substring(7));
                // the restore's own reports: its progress on a long read, and how long reading the state took
                text.lines().filter(l -> l.contains("the state of checkpoint")).forEach(l -> System.out.println("    " + l));
                System.out.println("  " + backend + " " + keys + " " + phase + ": " + result.substring(7));
            }
            String[] run = out.get(0).split(" ");
            String[] restore = out.get(1).split(" ");
            return String.format(Locale.ROOT, "%-9s %,11d %,12.0f %10s %10s %12.1f %12.1f %10.1f %10.1f %,10d %9d %9.1f",
                    backend, keys, Double.parseDouble(run[0]), run[1], run[2], Long.parseLong(run[3]) / 1e6,
                    Long.parseLong(run[4]) / 1e6, Long.parseLong(run[5]) / 1000.0, Long.parseLong(run[6]) / 1000.0,
                    Long.parseLong(run[9]), Long.parseLong(run[7]) / 1024, Double.parseDouble(restore[8]));
        } finally {
            ChildJvm.deleteRecursively(dir);
        }
    }

    /** One run: prints RESULT rate p50 max full incr pauseP99 pauseMax rssKb seconds gcPauseMaxMs. */
    private static void child(String[] args) throws Exception {
        AtomicLong longestGcPause = watchGcPauses();
        String phase = args[1];
        StateBackend backend = args[2].startsWith("heap")
                ? new HeapStateBackend().withIncrementalCheckpoints(!args[2].equals("heap-full"))
                : RocksDBStateBackend.create().withLocalDirectory(Path.of(args[4], "rocksdb"))
                        .withWriteBufferBytes(Long.getLong("bench.writeBuffer", 0))
                        .withIncrementalCheckpoints(!args[2].equals("rocksdb-full"));
        long keys = Long.parseLong(args[3]);
        Path dir = Path.of(args[4]);
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(phase.equals("restore") ? Integer.getInteger("bench.restoreParallelism", 2) : 2);
        env.setStateBackend(backend);
        env.enableCheckpointing(Duration.ofSeconds(1));
        env.getCheckpointConfig().setCheckpointTimeout(Duration.ofMinutes(10));
        env.getCheckpointConfig().setCheckpointStorage(dir.resolve("checkpoints").toUri().toString());
        env.setRestartStrategy(RestartStrategies.noRestart());
        env.fromSource(SequenceSource.bounded(2, 2 * keys, (int) keys), "keys").uid("source")
                .keyBy(k -> k)
                .process(new RunningCount()).uid("count")
                .sinkTo(new Discard()).uid("sink");
        long start = System.nanoTime();
        JobClient job = env.executeAsync("state-bench");
        job.awaitTermination(null);
        double seconds = (System.nanoTime() - start) / 1e9;
        List<CheckpointStats> stats = job.getCompletedCheckpoints();
        List<Long> durations = stats.stream().map(CheckpointStats::durationMillis).sorted().toList();
        List<Long> pauses = stats.stream().map(CheckpointStats::maxSyncPauseMicros).sorted().toList();
        CheckpointStats last = stats.isEmpty() ? null : stats.get(stats.size() - 1);
        long rss = Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("VmHWM:"))
                .mapToLong(l -> Long.parseLong(l.replaceAll("[^0-9]", ""))).findFirst().orElse(0);
        System.out.printf(Locale.ROOT, "RESULT %.0f %d %d %d %d %d %d %d %.2f %d%n", 2.0 * keys / seconds,
                pct(durations, 0.5), pct(durations, 1.0), last == null ? 0 : last.stateSizeBytes(),
                last == null ? 0 : last.incrementalSizeBytes(), pct(pauses, 0.99), pct(pauses, 1.0), rss, seconds,
                longestGcPause.get());
        System.exit(0);
    }

    /**
     * The longest stop-the-world collection from now on, in ms, as the collectors report each one (G1's young
     * and mixed pauses, full collections; ZGC's pauses). Concurrent cycles run beside the application and are
     * not counted.
     */
    private static AtomicLong watchGcPauses() {
        AtomicLong longest = new AtomicLong();
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            if (gc.getName().contains("Cycles") || gc.getName().contains("Concurrent")) {
                continue;
            }
            ((NotificationEmitter) gc).addNotificationListener((n, handback) -> {
                if (GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION.equals(n.getType())) {
                    long millis = GarbageCollectionNotificationInfo.from((CompositeData) n.getUserData()).getGcInfo()
                            .getDuration();
                    longest.accumulateAndGet(millis, Math::max);
                }
            }, null, null);
        }
        return longest;
    }

    private static long pct(List<Long> sorted, double p) {
        if (sorted.isEmpty()) {
            return 0;
        }
        return sorted.get((int) Math.min(sorted.size() - 1, Math.ceil(p * sorted.size()) - 1));
    }
}
