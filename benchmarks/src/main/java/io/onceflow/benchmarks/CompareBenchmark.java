package io.onceflow.benchmarks;

import io.onceflow.kafka.broker.KafkaBrokerLauncher;
import io.onceflow.kafka.broker.RunningKafkaBroker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code mvn -q -pl benchmarks exec:java -Dexec.args="[options]"}: starts one broker, writes the input once,
 * runs the word count on every system for every round, and prints the table.
 */
@Command(name = "compare", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Runs the same running word count on a raw kafka-clients loop, Onceflow, Apache Flink and "
                + "Kafka Streams, one after another on one real broker, audits each output with read_committed, "
                + "and prints a table.")
public final class CompareBenchmark implements Callable<Integer> {

    @Option(names = "--lines", defaultValue = "1000000", description = "input lines, 3 to 6 words each (default ${DEFAULT-VALUE})")
    int lines;

    @Option(names = "--vocabulary", defaultValue = "100000", description = "distinct words to draw from (default ${DEFAULT-VALUE})")
    int vocabulary;

    @Option(names = "--rounds", defaultValue = "3", description = "runs of each system, interleaved (default ${DEFAULT-VALUE})")
    int rounds;

    @Option(names = "--interval-ms", defaultValue = "1000", description = "checkpoint or commit interval (default ${DEFAULT-VALUE})")
    long intervalMillis;

    @Option(names = "--parallelism", defaultValue = "2", description = "parallelism, or stream threads (default ${DEFAULT-VALUE})")
    int parallelism;

    @Option(names = "--partitions", defaultValue = "4", description = "partitions of every topic (default ${DEFAULT-VALUE})")
    int partitions;

    @Option(names = "--systems", split = ",", description = "which, in order: raw-alo, raw-tx, onceflow-eo, onceflow-alo, "
            + "flink-eo, kstreams-eo (default all of these), onceflow-eo-full (heap checkpoints in full, for comparison)")
    List<String> systems;

    @Option(names = "--phases", split = ",", defaultValue = "throughput,recovery,latency",
            description = "which parts, of throughput, recovery (kill -9 and restart), latency (default ${DEFAULT-VALUE}); "
                    + "latency without the others starts with a run of the first system that is not counted")
    List<String> phases;

    @Option(names = "--rate", defaultValue = "0", description = "lines/s of live input in the recovery and latency "
            + "phases; default: half of the slowest system's throughput")
    double rate;

    @Option(names = "--recovery-seconds", defaultValue = "30", description = "how long live input is written per "
            + "recovery run; the kill comes half-way (default ${DEFAULT-VALUE})")
    int recoverySeconds;

    @Option(names = "--latency-seconds", defaultValue = "30", description = "how long live input is written per "
            + "latency run (default ${DEFAULT-VALUE})")
    int latencySeconds;

    @Option(names = "--latency-warmup-seconds", defaultValue = "10", description = "of each latency run's live input, "
            + "the first seconds, sent at the same rate but not measured: compilation and caches warm up at the real "
            + "rate first (default ${DEFAULT-VALUE})")
    int latencyWarmupSeconds;

    @Option(names = "--child-heap", defaultValue = "2g", description = "-Xmx of every system's JVM (default ${DEFAULT-VALUE})")
    String childHeap;

    @Option(names = "--child-jvm-option", paramLabel = "OPTION", description = "one more option for every system's JVM "
            + "(a collector, a flag to compare); repeat it for several")
    List<String> childJvmOptions = new ArrayList<>();

    @Option(names = "--class-data-sharing", description = "give every system a class-data archive of its own, as "
            + "the Docker image gives an Onceflow job: a training run per system first (stopped with SIGTERM, its JVM "
            + "archives the classes it loaded), then every run maps its archive in instead of loading each class anew")
    boolean classDataSharing;

    @Option(names = "--aot-cache", description = "JDK 25 and later: as --class-data-sharing, with an ahead-of-time "
            + "cache per system instead of an archive (the classes loaded and linked, and the methods' profiles, of "
            + "the training run); run the benchmark itself on that JDK")
    boolean aotCache;

    @Option(names = "--run-timeout-minutes", defaultValue = "10", description = "longest a run may take (default ${DEFAULT-VALUE})")
    int runTimeoutMinutes;

    private List<String> jvmOptions() {
        List<String> options = new ArrayList<>();
        options.add("-Xmx" + childHeap);
        options.addAll(childJvmOptions);
        return options;
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new CompareBenchmark()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        List<BenchSystem> chosen = new ArrayList<>();
        if (systems == null) {
            chosen.addAll(java.util.Arrays.stream(BenchSystem.values()).filter(BenchSystem::byDefault).toList());
        } else {
            for (String id : systems) {
                chosen.add(BenchSystem.byId(id.trim()));
            }
        }
        for (String phase : phases) {
            if (!List.of("throughput", "recovery", "latency").contains(phase)) {
                throw new CommandLine.ParameterException(new CommandLine(this), "Unknown phase '" + phase
                        + "'; choose from throughput, recovery, latency");
            }
        }
        if (latencyWarmupSeconds < 0 || latencyWarmupSeconds >= latencySeconds) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--latency-warmup-seconds must be at least 0 "
                    + "and less than --latency-seconds (" + latencySeconds + "), was " + latencyWarmupSeconds);
        }
        if ((phases.contains("latency") || phases.contains("recovery")) && !phases.contains("throughput") && rate <= 0) {
            throw new CommandLine.ParameterException(new CommandLine(this), "The recovery and latency phases without the "
                    + "throughput phase need --rate: its default is half of the slowest measured throughput");
        }
        if (classDataSharing && aotCache) {
            throw new CommandLine.ParameterException(new CommandLine(this), "Choose one of --class-data-sharing and "
                    + "--aot-cache: each gives every system a start-up file of its own");
        }
        ClassDataArchives.Kind kind = aotCache ? ClassDataArchives.Kind.AOT_CACHE
                : classDataSharing ? ClassDataArchives.Kind.DYNAMIC_ARCHIVE : null;
        if (kind != null && childJvmOptions.stream().anyMatch(o -> o.contains("SharedArchiveFile")
                || o.contains("ArchiveClassesAtExit") || o.startsWith("-Xshare") || o.startsWith("-XX:AOT"))) {
            throw new CommandLine.ParameterException(new CommandLine(this), kind.option + " makes and uses an "
                    + "archive per system; leave class-data options out of --child-jvm-option, or drop "
                    + kind.option + " to use your own");
        }
        if (kind != null && Runtime.version().feature() < kind.sinceJdk) {
            throw new CommandLine.ParameterException(new CommandLine(this), kind.option + " needs JDK " + kind.sinceJdk
                    + " or later, and the systems run on the JVM that runs the benchmark: Java "
                    + System.getProperty("java.version") + " here. Run it with JAVA_HOME set to a JDK "
                    + kind.sinceJdk + " or later");
        }
        if (chosen.contains(BenchSystem.FLINK_EXACTLY_ONCE)) {
            BenchSystem.flinkClasspath(); // says what to build before a broker is started for nothing
        }
        Comparison.Settings settings = new Comparison.Settings(lines, vocabulary, rounds, intervalMillis, parallelism,
                chosen, partitions, Duration.ofMinutes(runTimeoutMinutes), jvmOptions());
        System.out.printf(Locale.ROOT, "Starting a Kafka broker (%d cores, Java %s)%n",
                Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"));
        try (RunningKafkaBroker broker = new KafkaBrokerLauncher().maxHeap("1g").start();
             ClassDataArchives archives = kind != null ? new ClassDataArchives(kind) : null) {
            Comparison comparison = new Comparison(settings, broker, System.out);
            if (archives != null) {
                System.out.println("Class-data sharing: a training run per system for its " + archives.name());
                comparison.trainClassData(archives);
            }
            boolean allExact = true;
            Comparison.Input input = null;
            List<Comparison.Run> runs = List.of();
            if (phases.contains("throughput")) {
                long t = System.nanoTime();
                input = comparison.writeInput();
                System.out.printf(Locale.ROOT, "Input: %,d lines, %,d words, %,d distinct, written in %.1f s%n",
                        input.lines(), input.words(), input.expected().size(), (System.nanoTime() - t) / 1e9);
                runs = comparison.runAll(input);
                allExact &= runs.stream().allMatch(Comparison.Run::exact);
            }
            boolean live = phases.contains("recovery") || phases.contains("latency");
            double liveRate = rate > 0 || !live ? rate : Comparison.halfOfSlowest(runs);
            List<Comparison.Recovery> recoveries = List.of();
            if (phases.contains("recovery")) {
                System.out.printf(Locale.ROOT, "Recovery: %,.0f lines/s of live input for %d s, kill -9 half-way%n",
                        liveRate, recoverySeconds);
                recoveries = comparison.recoverAll(liveRate, Duration.ofSeconds(recoverySeconds));
                allExact &= recoveries.stream().allMatch(Comparison.Recovery::keptItsPromise);
            }
            List<Comparison.Latency> latencies = List.of();
            if (phases.contains("latency")) {
                System.out.printf(Locale.ROOT, "Latency: %,.0f lines/s of live input for %d s%n", liveRate, latencySeconds);
                if (!phases.contains("throughput") && !phases.contains("recovery")) {
                    // the broker was just started: a first run of each system warms it and this process up, and is
                    // not counted
                    comparison.latencyWarmUpRuns(liveRate, Duration.ofSeconds(latencySeconds),
                            Duration.ofSeconds(latencyWarmupSeconds));
                }
                latencies = comparison.latencyAll(liveRate, Duration.ofSeconds(latencySeconds),
                        Duration.ofSeconds(latencyWarmupSeconds));
                allExact &= latencies.stream().allMatch(Comparison.Latency::exact);
            }
            if (input != null) {
                System.out.println();
                System.out.print(Comparison.table(settings, input, runs));
                System.out.println("(exact runs: a read_committed audit found every word's counts 1..n once and nothing "
                        + "else; only they count. words/s: words over the time from the first input to the last output "
                        + "committed. Raw loops run one thread: a running count needs a shuffle they do not have.)");
            }
            if (!recoveries.isEmpty()) {
                System.out.println();
                System.out.printf(Locale.ROOT, "Recovery: %,.0f lines/s of live input for %d s; kill -9 half-way, then "
                        + "start again on what the killed process left%n", liveRate, recoverySeconds);
                System.out.println();
                System.out.print(Comparison.recoveryTable(settings, recoveries));
            }
            if (!latencies.isEmpty()) {
                System.out.println();
                System.out.printf(Locale.ROOT, "Latency: send -> visible to read_committed, %d s per run at a steady rate "
                        + "(the first %d s not measured), words of the vocabulary recurring%n%n", latencySeconds,
                        latencyWarmupSeconds);
                System.out.print(Comparison.latencyTable(settings, latencies));
                String phases = Comparison.checkpointPhaseTable(settings, latencies);
                if (phases != null) {
                    System.out.printf(Locale.ROOT, "%nWhere a checkpoint's time goes during those runs: when each phase "
                            + "ended, ms after the trigger (median over checkpoints; the last column their p99)%n%n");
                    System.out.print(phases);
                }
            }
            return allExact ? 0 : 1;
        }
    }
}
