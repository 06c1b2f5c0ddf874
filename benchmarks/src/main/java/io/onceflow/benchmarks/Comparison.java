package io.onceflow.benchmarks;

import io.onceflow.testing.RandomLines;
import io.onceflow.kafka.broker.Topics;
import io.onceflow.kafka.audit.ExactlyOnceAudit;
import io.onceflow.kafka.broker.RunningKafkaBroker;
import io.onceflow.testing.ChildJvm;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.function.DoubleBinaryOperator;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.ToDoubleFunction;
import java.util.function.ToIntFunction;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Runs the same running word count on each system, one after another, on one broker and one input, and
 * measures each from outside: the system's process is started, a {@code read_committed} consumer waits
 * for all of its output, the process's CPU time and peak RSS are read from {@code /proc}, the process is
 * killed, and the output is audited ({@link ExactlyOnceAudit}: every word's counts exactly 1..n) before
 * the figures count.
 */
public final class Comparison {

    /** A directory to keep each run's process output in (its log, with the checkpoint phases), as {@code <run>.log}. */
    public static final String KEEP_LOGS_PROPERTY = "onceflow.benchmarks.keepLogs";

    /** What to run. */
    public record Settings(int lines, int vocabulary, int rounds, long intervalMillis, int parallelism,
                           List<BenchSystem> systems, int partitions, Duration runTimeout, List<String> childJvmOptions) {
        public Settings {
            if (lines < 1 || vocabulary < 1 || rounds < 1 || intervalMillis < 1 || parallelism < 1 || partitions < 1) {
                throw new IllegalArgumentException("lines, vocabulary, rounds, interval, parallelism and partitions must "
                        + "be positive");
            }
            if (systems.isEmpty()) {
                throw new IllegalArgumentException("no system to run");
            }
        }
    }

    /** The input every system reads. */
    public record Input(String topic, int lines, long words, Map<String, Long> expected) {
    }

    /**
     * One run. Times are seconds from the process start; {@code failure} says why a run has no figures.
     * Words per second are over the time from the first input to the last output committed.
     */
    public record Run(BenchSystem system, int round, boolean exact, String audit, double firstInput, double firstOutput,
                      double allOutput, double wordsPerSecond, double jobCpu, JvmCpu jvmCpu, double brokerCpu,
                      double peakRssMb, String failure) {
        static Run failed(BenchSystem system, int round, String failure) {
            return new Run(system, round, false, "", 0, 0, 0, 0, 0, JvmCpu.NONE, 0, 0, failure);
        }
    }

    /**
     * A process's CPU time by thread, in seconds, summed over the threads alive when read (a compiler thread the JVM
     * ended when idle is not counted): the JIT compiler threads ({@code C1/C2 CompilerThread}), the garbage
     * collector's ({@code GC Thread}, {@code G1 ...}), and all the others ({@code jobThreads}: the system's own, such
     * as its record path and its Kafka clients' network threads, and the JVM's small upkeep); {@code busiest}, the
     * others grouped by name, the busiest first.
     */
    public record JvmCpu(double jit, double gc, double jobThreads, List<ThreadCpu> busiest) {
        /** For a run that failed before it was measured. */
        static final JvmCpu NONE = new JvmCpu(0, 0, 0, List.of());

        /** The busiest {@code n} groups, as {@code name ×threads seconds}. */
        String busiest(int n) {
            return busiest.stream().limit(n).map(t -> String.format(Locale.ROOT, "\"%s\"%s %.1f s", t.name(),
                    t.threads() > 1 ? " ×" + t.threads() : "", t.seconds())).collect(Collectors.joining(", "));
        }
    }

    /**
     * The CPU time of a process's threads of one name, in seconds. The name is the kernel's: a Java thread's first
     * 15 characters, so that a system's subtasks of one operator usually share it.
     */
    public record ThreadCpu(String name, int threads, double seconds) {
    }

    private static final String INPUT = "bench-in";
    /** Linux's USER_HZ: the unit of the CPU times in /proc/PID/stat. */
    private static final double CLOCK_TICKS_PER_SECOND = 100;

    /** Lines of a class-data training run: enough for a few checkpoints and commits on the hot path. */
    private static final int CLASS_DATA_TRAINING_LINES = 50_000;

    private final Settings settings;
    private final RunningKafkaBroker broker;
    private final PrintStream progress;
    /** With {@code --class-data-sharing}: every system's archive. */
    private ClassDataArchives classData;

    public Comparison(Settings settings, RunningKafkaBroker broker, PrintStream progress) {
        this.settings = settings;
        this.broker = broker;
        this.progress = progress;
    }

    /** Writes the input: lines of 3 to 6 words drawn from the vocabulary, the same for a given size. */
    public Input writeInput() throws Exception {
        return writeLines(INPUT, settings.lines(), 42);
    }

    /** Writes {@code count} lines of the vocabulary into a new topic. */
    private Input writeLines(String topic, int count, long seed) throws Exception {
        createTopic(topic);
        Properties p = client();
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, Integer.toString(128 * 1024));
        RandomLines lines = new RandomLines(settings.vocabulary(), seed);
        try (KafkaProducer<byte[], String> producer = new KafkaProducer<>(p)) {
            for (int i = 0; i < count; i++) {
                producer.send(new ProducerRecord<>(topic, i % settings.partitions(), null, lines.next()), (m, e) -> {
                    if (e != null) {
                        throw new IllegalStateException("Writing the input failed: " + e, e);
                    }
                });
            }
            producer.flush();
        }
        long written = endOffsets(topic).values().stream().mapToLong(Long::longValue).sum();
        if (written != count) {
            throw new IllegalStateException("The input topic holds " + written + " lines, not " + count);
        }
        return new Input(topic, count, lines.words(), lines.counts());
    }

    /**
     * Gives every system a class-data archive ({@code --class-data-sharing}): a training run on a small input of its
     * own until all its output is committed, then SIGTERM, as which its JVM writes the archive; every later run of
     * the system maps it in. A system whose training leaves no archive runs without one, and says so.
     */
    public void trainClassData(ClassDataArchives archives) throws Exception {
        this.classData = archives;
        for (BenchSystem system : settings.systems()) {
            long t = System.nanoTime();
            String run = runName(system, 0) + "-cds";
            Input in = writeLines(run + "-in", CLASS_DATA_TRAINING_LINES, 7);
            try (Started s = new Started(system, run, in.topic(), true)) {
                try {
                    s.awaitOutput(in.words());
                } catch (RunFailed e) {
                    progress.printf(Locale.ROOT, "No %s for %s: its training run failed, it runs "
                            + "without one: %s%n", archives.name(), system.id(), e.getMessage());
                    continue;
                }
                s.process.destroy();
                if (!s.process.waitFor(2, TimeUnit.MINUTES)) {
                    progress.printf(Locale.ROOT, "  %s did not exit within 2 minutes of SIGTERM%n", system.id());
                }
                if (archives.trained(system)) {
                    progress.printf(Locale.ROOT, "The %s of %s written (%.1f s)%n", archives.name(),
                            system.id(), (System.nanoTime() - t) / 1e9);
                } else {
                    progress.printf(Locale.ROOT, "No %s for %s: it runs without one. Its JVM said:%n%s%n",
                            archives.name(), system.id(), ChildJvm.tail(s.log));
                }
            }
        }
    }

    /**
     * The order of one round's runs, so that a system runs after a different one from round to round: whatever a run
     * leaves on a shared machine (the broker writing back its output, memory just freed or long unused) would
     * otherwise fall on the same successor in every round. A rotation of the given order does not do that (each
     * system still follows the same one, except in the round it runs first), so the rounds follow a balanced Latin
     * square (Williams' design, as crossover trials use against carry-over effects): round 1 takes the systems in the
     * order 0, 1, n-1, 2, n-2, ... of the given list, each later round adds one to every index (mod n), and with an
     * odd number of systems every second round runs its order backwards. With an even number of systems, n rounds
     * put every system right after every other exactly once; with an odd number, 2n rounds do. Round 1 starts with
     * the first system given, and with an even number each round starts with another one.
     */
    static List<BenchSystem> roundOrder(List<BenchSystem> systems, int round) {
        int n = systems.size();
        List<BenchSystem> order = new ArrayList<>(n);
        int shift = (round - 1) % Math.max(n, 1);
        for (int j = 0; j < n; j++) {
            int base = j % 2 == 1 ? (j + 1) / 2 : (n - j / 2) % n;
            order.add(systems.get((base + shift) % n));
        }
        if (n % 2 == 1 && round % 2 == 0) {
            Collections.reverse(order);
        }
        return order;
    }

    /** Throughput: every system on the same input, rounds interleaving the systems. */
    public List<Run> runAll(Input input) throws Exception {
        return everyRound("", settings.systems(), (system, round) -> runOnce(system, round, input),
                r -> r.failure() != null ? "FAILED: " + r.failure()
                        : String.format(Locale.ROOT, "first input %.1f s, first output %.1f s, all output %.1f s, "
                                + "%,.0f words/s, %s; job CPU %.1f s, busiest threads: %s", r.firstInput(),
                        r.firstOutput(), r.allOutput(), r.wordsPerSecond(),
                        r.exact() ? "exact" : "NOT EXACT: " + r.audit(), r.jobCpu(), r.jvmCpu().busiest(4)));
    }

    /** One run of one system; a run that cannot give figures returns them with its failure. */
    @FunctionalInterface
    private interface OneRun<R> {
        R run(BenchSystem system, int round) throws Exception;
    }

    /**
     * Every round runs every system once and prints a line for each run, in an order of its own (see
     * {@link #roundOrder}).
     */
    private <R> List<R> everyRound(String phase, List<BenchSystem> systems, OneRun<R> one, Function<R, String> line)
            throws Exception {
        List<R> all = new ArrayList<>();
        int total = settings.rounds() * systems.size();
        for (int round = 1; round <= settings.rounds(); round++) {
            for (BenchSystem system : roundOrder(systems, round)) {
                R r = one.run(system, round);
                all.add(r);
                progress.printf(Locale.ROOT, "[%d/%d] %sround %d %-12s %s%n", all.size(), total, phase, round,
                        system.id(), line.apply(r));
            }
        }
        return all;
    }

    Run runOnce(BenchSystem system, int round, Input input) throws Exception {
        try (Started s = start(system, round, input.topic())) {
            long brokerTicks = cpuTicks(broker.pid());
            s.awaitOutput(input.words());
            long allOutput = System.currentTimeMillis();
            double jobCpu = cpuSeconds(s.process.pid());
            JvmCpu jvmCpu = jvmCpu(s.process.pid());
            double rssMb = peakRssKb(s.process.pid()) / 1024.0;
            double brokerCpu = (cpuTicks(broker.pid()) - brokerTicks) / CLOCK_TICKS_PER_SECOND;
            s.kill();
            long firstInput = s.firstInput();
            ExactlyOnceAudit.Report audit = s.audit(input.expected());
            boolean exact = audit.exact() && audit.records() == input.words();
            double seconds = (allOutput - firstInput) / 1000.0;
            return new Run(system, round, exact, audit.toString(), (firstInput - s.started) / 1000.0,
                    (s.firstOutput - s.started) / 1000.0, (allOutput - s.started) / 1000.0, input.words() / seconds, jobCpu,
                    jvmCpu, brokerCpu, rssMb, null);
        } catch (RunFailed e) {
            return Run.failed(system, round, e.getMessage());
        }
    }

    /**
     * Recovery: the system runs on live input and is killed with {@code kill -9} half-way, then started again on
     * what it left (checkpoints, state directory, transactional ids) while the input goes on. Measured: the
     * time from the new process's start to its first newly committed output, and to all output committed, and the
     * CPU time the new process had taken by its first new output (the work of a cold start, which on a busy
     * machine the wall-clock time shows only through the noise); the whole output is audited after. Times in
     * seconds.
     */
    public record Recovery(BenchSystem system, int round, boolean exact, long duplicates, long lost, String audit,
                           double killedAfter, double toFirstNewOutput, double cpuToFirstNewOutput,
                           JvmCpu jvmCpuToFirstNewOutput, double toAllOutput, String failure) {
        /**
         * What the system promises: exact, or for an at-least-once one, nothing lost; a raw loop, which restores no
         * state, that it resumed at the offsets it committed (its restart is timed, its counts are not audited).
         */
        public boolean keptItsPromise() {
            return failure == null && (!system.restores() || exact || !system.exactlyOnce() && lost == 0);
        }
    }

    public List<Recovery> recoverAll(double linesPerSecond, Duration duration) throws Exception {
        return everyRound("recovery ", settings.systems().stream().filter(BenchSystem::inRecovery).toList(),
                (system, round) -> {
                    try {
                        return recoverOnce(system, round, linesPerSecond, duration);
                    } catch (RunFailed e) {
                        return new Recovery(system, round, false, 0, 0, "", 0, 0, 0, JvmCpu.NONE, 0,
                                e.getMessage());
                    }
                },
                r -> r.failure() != null ? "FAILED: " + r.failure()
                        : String.format(Locale.ROOT, "killed after %.1f s; restarted: first new output after %.2f s"
                                        + " (%.2f CPU s, %.2f of it JIT; busiest threads by then: %s), all after"
                                        + " %.1f s; %s", r.killedAfter(), r.toFirstNewOutput(), r.cpuToFirstNewOutput(),
                                r.jvmCpuToFirstNewOutput().jit(), r.jvmCpuToFirstNewOutput().busiest(5),
                                r.toAllOutput(),
                                !r.system().restores() ? r.audit() : r.exact() ? "exact"
                                        : r.keptItsPromise() ? "at-least-once: " + r.duplicates()
                                        + " duplicate(s), nothing lost" : "NOT EXACT: " + r.audit()));
    }

    /**
     * Input written at a steady rate for {@code duration}; when half of it has passed the system is killed,
     * the output committed before the kill is read, and the system is started again while the input goes on
     * — for the whole duration and at least until the restarted system's first output, so that a system
     * slow to start still has new input to show it is back.
     */
    Recovery recoverOnce(BenchSystem system, int round, double linesPerSecond, Duration duration) throws Exception {
        String inputTopic = runName(system, round) + "-in";
        createTopic(inputTopic);
        try (Started s = start(system, round, inputTopic);
             KafkaProducer<byte[], String> producer = new KafkaProducer<>(latencyProducer())) {
            SteadyInput.Words in = SteadyInput.words(producer, inputTopic, linesPerSecond, Long.MAX_VALUE,
                    settings.vocabulary(), round);
            long inputStart = System.currentTimeMillis();
            in.input().start();
            long deadline = inputStart + settings.runTimeout().toMillis();
            while (System.currentTimeMillis() - inputStart < duration.toMillis() / 2 || s.seen == 0) {
                if (!s.process.isAlive() || System.currentTimeMillis() > deadline) {
                    in.input().stop();
                    s.checkAlive();
                    throw new RunFailed("no output within " + settings.runTimeout().toSeconds() + " s:\n"
                            + ChildJvm.tail(s.log));
                }
                s.poll(50, null);
            }
            double killedAfter = (System.currentTimeMillis() - s.started) / 1000.0;
            s.kill();
            s.awaitQuiet(1_000);
            long before = s.seen;
            double toFirst;
            double cpuToFirst;
            JvmCpu jvmCpuToFirst;
            double toAll;
            try {
                s.restart();
                s.awaitOutput(before + 1);
                toFirst = (System.currentTimeMillis() - s.started) / 1000.0;
                try {
                    cpuToFirst = cpuSeconds(s.process.pid());
                    jvmCpuToFirst = jvmCpu(s.process.pid());
                } catch (IOException gone) {
                    throw new RunFailed("the restarted process ended right after its first new output:\n"
                            + ChildJvm.tail(s.log));
                }
                while (System.currentTimeMillis() - inputStart < duration.toMillis()) {
                    s.poll(50, null);
                    s.checkAlive();
                }
                in.input().stop();
                in.input().join();
                s.awaitOutput(in.words());
                if (!system.exactlyOnce() || !system.restores()) {
                    // its duplicates made up the count before the rest came: wait until nothing more comes
                    s.awaitQuiet(Math.max(2_000, 3 * settings.intervalMillis()));
                }
                toAll = (s.lastOutput - s.started) / 1000.0;
            } catch (RunFailed e) {
                in.input().stop();
                try {
                    in.input().join();
                } catch (RunFailed ignored) {
                    // the run failed already; what it failed of says more
                }
                throw new RunFailed("after the restart (" + before + " records had been committed before the kill): "
                        + e.getMessage() + "\nthe output so far: " + s.audit(in.expected()));
            } finally {
                in.input().stop();
            }
            s.kill();
            if (!system.restores()) {
                // the committed output before the kill covers the input up to the committed offsets, and the restart
                // resumed there: one output record per word of input, no more (its counts start again, so the
                // values are not audited)
                if (s.seen != in.words()) {
                    throw new RunFailed("the restarted loop wrote " + (s.seen - before) + " records after the "
                            + before + " committed before the kill, for " + in.words() + " words in all: it did not "
                            + "resume at the offsets it had committed");
                }
                return new Recovery(system, round, false, 0, 0, "timing only: no state restored, counts start again",
                        killedAfter, toFirst, cpuToFirst, jvmCpuToFirst, toAll, null);
            }
            ExactlyOnceAudit.Report audit = s.audit(in.expected());
            return new Recovery(system, round, audit.exact() && audit.records() == in.words(), audit.duplicates()
                    + audit.unexpected(), audit.gaps(), audit.toString(), killedAfter, toFirst, cpuToFirst, jvmCpuToFirst,
                    toAll, null);
        }
    }

    /**
     * Latency: lines of three words from the vocabulary at a steady rate after a warm-up, each word read from
     * one partition ({@link SteadyInput#recurring}); every output record's latency is the time it became
     * visible to a read_committed consumer minus the time its input occurrence was sent.
     */
    public record Latency(BenchSystem system, int round, double linesPerSecond, long samples, double p50, double p99,
                          double max, boolean exact, String audit, String failure, CheckpointPhases.Summary phases) {
    }

    public List<Latency> latencyAll(double linesPerSecond, Duration duration) throws Exception {
        return latencyAll(linesPerSecond, duration, Duration.ZERO);
    }

    /**
     * As above; the first {@code warmup} of each run's live input is sent at the same rate but its records are
     * not measured (nor the checkpoints triggered then): compilation and caches warm up at the real rate first.
     */
    public List<Latency> latencyAll(double linesPerSecond, Duration duration, Duration warmup) throws Exception {
        return everyRound("latency ", settings.systems(),
                (system, round) -> latencyRun(system, round, linesPerSecond, duration, warmup), Comparison::latencyLine);
    }

    /**
     * One latency run of each system, not counted: for a latency phase that is the first to load a broker just
     * started. The first runs on a fresh broker were seconds slower at the p99 than the later ones, whichever system
     * ran first (most likely the broker's code and this process's own producer and consumer still being compiled).
     * After a warm-up of the first system alone, the first measured run of another was still its slowest (Onceflow's
     * p99 at 100 ms checkpoints in two commands: 244 and 205 ms, its later rounds 138-157), perhaps the broker's code
     * for the requests only that system sends; so every system warms up once.
     */
    public void latencyWarmUpRuns(double linesPerSecond, Duration duration, Duration warmup) throws Exception {
        for (BenchSystem system : settings.systems()) {
            progress.printf(Locale.ROOT, "[warm-up] latency %-12s %s (not counted)%n", system.id(),
                    latencyLine(latencyRun(system, 0, linesPerSecond, duration, warmup)));
        }
    }

    /** A latency run, or its failure as a result that says why. */
    private Latency latencyRun(BenchSystem system, int round, double linesPerSecond, Duration duration,
                               Duration warmup) throws Exception {
        try {
            return latencyOnce(system, round, linesPerSecond, duration, warmup);
        } catch (RunFailed e) {
            return new Latency(system, round, linesPerSecond, 0, 0, 0, 0, false, "", e.getMessage(), null);
        }
    }

    private static String latencyLine(Latency r) {
        return r.failure() != null ? "FAILED: " + r.failure()
                : String.format(Locale.ROOT, "%,.0f lines/s: p50 %.0f ms, p99 %.0f ms, max %.0f ms over %,d records; %s",
                        r.linesPerSecond(), r.p50(), r.p99(), r.max(), r.samples(),
                        r.exact() ? "exact" : "NOT EXACT: " + r.audit());
    }

    Latency latencyOnce(BenchSystem system, int round, double linesPerSecond, Duration duration, Duration warmup)
            throws Exception {
        String inputTopic = runName(system, round) + "-in";
        createTopic(inputTopic);
        try (Started s = start(system, round, inputTopic);
             KafkaProducer<byte[], String> producer = new KafkaProducer<>(latencyProducer())) {
            int warmups = 0;
            // warm-up: one line every 200 ms until the first output is visible, so start-up is not measured
            long deadline = System.currentTimeMillis() + settings.runTimeout().toMillis();
            for (int k = 0; s.seen == 0; k++) {
                if (System.currentTimeMillis() > deadline) {
                    throw new RunFailed("no output within " + settings.runTimeout().toSeconds() + " s of warm-up:\n"
                            + ChildJvm.tail(s.log));
                }
                warmups++;
                producer.send(new ProducerRecord<>(inputTopic, "warmup" + k));
                producer.flush();
                s.poll(200, null);
                s.checkAlive();
            }
            LongArrayList latencies = new LongArrayList();
            SteadyInput.Recurring sent = SteadyInput.recurring(producer, inputTopic, linesPerSecond, duration.toNanos(),
                    settings.vocabulary(), settings.partitions(), 7L * round + system.ordinal());
            SteadyInput in = sent.input();
            s.timed = sent;
            long inputStart = System.currentTimeMillis();
            s.measureFrom = inputStart + warmup.toMillis();
            in.start();
            while (in.isAlive()) {
                s.poll(10, latencies);
                s.checkAlive();
            }
            long lines = in.join();
            long inputEnd = System.currentTimeMillis();
            long outputDeadline = System.currentTimeMillis() + 120_000;
            // every output: each warm-up line's one word and three per line. (Not "3 per line more than were seen
            // when the warm-up ended": warm-up outputs still on their way then would take the place of the last
            // real ones, and the process be killed before those were committed.)
            long total = warmups + 3 * lines;
            while (s.seen < total) {
                if (System.currentTimeMillis() > outputDeadline) {
                    throw new RunFailed("only " + s.seen + " of " + total + " output records within 120 s "
                            + "after the input ended:\n" + ChildJvm.tail(s.log));
                }
                s.poll(10, latencies);
                s.checkAlive();
            }
            s.kill();
            CheckpointPhases.Summary phases = CheckpointPhases.read(s.log, s.measureFrom, inputEnd);
            Map<String, Long> expected = new HashMap<>(sent.expected());
            for (int k = 0; k < warmups; k++) {
                expected.put("warmup" + k, 1L);
            }
            ExactlyOnceAudit.Report audit = s.audit(expected);
            boolean exact = audit.exact() && audit.records() == warmups + 3 * lines;
            long[] sorted = latencies.sorted();
            return new Latency(system, round, linesPerSecond, sorted.length, percentile(sorted, 0.50),
                    percentile(sorted, 0.99), sorted.length == 0 ? 0 : sorted[sorted.length - 1], exact, audit.toString(),
                    null, phases);
        }
    }

    private static double percentile(long[] sorted, double q) {
        if (sorted.length == 0) {
            return 0;
        }
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(q * sorted.length) - 1)];
    }

    private Properties latencyProducer() {
        Properties p = client();
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.LINGER_MS_CONFIG, "1");
        return p;
    }

    /** A run that cannot give figures, and why. */
    static final class RunFailed extends Exception {
        RunFailed(String message) {
            super(message);
        }
    }

    /** A growable list of longs: the latency of every output record of a run. */
    static final class LongArrayList {
        private long[] values = new long[1024];
        private int size;

        void add(long v) {
            if (size == values.length) {
                values = java.util.Arrays.copyOf(values, size * 2);
            }
            values[size++] = v;
        }

        long[] sorted() {
            long[] copy = java.util.Arrays.copyOf(values, size);
            java.util.Arrays.sort(copy);
            return copy;
        }
    }

    private static String runName(BenchSystem system, int round) {
        return "bench-" + system.id() + "-" + round;
    }

    private Started start(BenchSystem system, int round, String inputTopic) throws Exception {
        return new Started(system, runName(system, round) + "-" + Long.toString(System.nanoTime() % 1_000_000, 36),
                inputTopic, false);
    }

    /**
     * One system's process on a fresh output topic and work directory, and a read_committed consumer
     * following that topic. Closing it kills the process and deletes the topics and the directory.
     */
    private final class Started implements AutoCloseable {
        final BenchSystem system;
        final String run;
        final String input;
        final String output;
        final Path work;
        final Path log;
        final KafkaConsumer<byte[], byte[]> consumer;
        Process process;
        long started;
        long firstOutput = -1;
        long lastOutput = -1;
        // latencies are measured for input sent from then on (after the live input's warm-up)
        long measureFrom;
        long seen;

        /** A class-data training run: writes the system's archive as it exits. */
        final boolean training;

        Started(BenchSystem system, String run, String input, boolean training) throws Exception {
            this.system = system;
            this.training = training;
            this.run = run;
            this.input = input;
            this.output = run + "-out";
            createTopic(output);
            this.work = Files.createTempDirectory("onceflow-bench-");
            this.log = work.resolve("system.log");
            this.consumer = new KafkaConsumer<>(readCommitted());
            List<TopicPartition> partitions = new ArrayList<>(endOffsets(output).keySet());
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            restart();
        }

        /** Starts the system's process (again, after a kill: on the same topics, directory and names). */
        void restart() throws IOException {
            ProcessBuilder command = system.command(broker.bootstrapServers(), input, output, run,
                    settings.intervalMillis(), settings.parallelism(), work, settings.childJvmOptions());
            if (classData != null) {
                command.command(training ? classData.forTraining(system, command.command())
                        : classData.forRun(system, command.command()));
            }
            started = System.currentTimeMillis();
            process = command.redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                    .start();
        }

        void checkAlive() throws RunFailed {
            if (!process.isAlive()) {
                throw new RunFailed("the process ended with exit code " + process.exitValue() + " after " + seen
                        + " output records:\n" + ChildJvm.tail(log));
            }
        }

        /** The latency phase's input: when each occurrence of each word was sent. */
        SteadyInput.Recurring timed;

        /** Polls once; with {@code latencies}, records each output record's latency from its input's send time. */
        void poll(long millis, LongArrayList latencies) {
            var records = consumer.poll(Duration.ofMillis(millis));
            if (records.isEmpty()) {
                return;
            }
            long now = System.currentTimeMillis();
            if (firstOutput < 0) {
                firstOutput = now;
            }
            lastOutput = now;
            seen += records.count();
            if (latencies != null) {
                for (var r : records) {
                    long sentAt = timed.sentAt(new String(r.key(), java.nio.charset.StandardCharsets.UTF_8),
                            Long.parseLong(new String(r.value(), java.nio.charset.StandardCharsets.UTF_8)));
                    if (sentAt >= 0 && sentAt >= measureFrom) {
                        latencies.add(now - sentAt);
                    }
                }
            }
        }

        /** Waits until {@code records} output records in all are visible. */
        void awaitOutput(long records) throws RunFailed {
            long deadline = System.currentTimeMillis() + settings.runTimeout().toMillis();
            while (seen < records) {
                checkAlive();
                if (System.currentTimeMillis() > deadline) {
                    throw new RunFailed("only " + seen + " of " + records + " output records within "
                            + settings.runTimeout().toSeconds() + " s:\n" + ChildJvm.tail(log));
                }
                poll(50, null);
            }
        }

        /** Reads on until {@code quietMillis} pass with nothing new (after a kill: what was committed before it). */
        void awaitQuiet(long quietMillis) {
            long quietSince = System.currentTimeMillis();
            while (System.currentTimeMillis() - quietSince < quietMillis) {
                long before = seen;
                poll(100, null);
                if (seen > before) {
                    quietSince = System.currentTimeMillis();
                }
            }
        }

        /** {@code kill -9}. */
        void kill() throws InterruptedException {
            process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        }

        /** When the system saw its first input line (the first run's, if it was restarted). */
        long firstInput() throws IOException, RunFailed {
            return Files.readAllLines(log).stream().filter(l -> l.startsWith(FirstInput.MARKER))
                    .map(l -> Long.parseLong(l.substring(FirstInput.MARKER.length()).trim())).findFirst()
                    .orElseThrow(() -> new RunFailed("the system never reported its first input:\n" + ChildJvm.tail(log)));
        }

        ExactlyOnceAudit.Report audit(Map<String, Long> expected) {
            return ExactlyOnceAudit.verify(client(), output, expected, Duration.ofMinutes(10));
        }

        @Override
        public void close() throws Exception {
            try {
                if (process != null && process.isAlive()) {
                    kill();
                }
                consumer.close();
            } finally {
                deleteTopicsOf(run);
                if (!input.equals(INPUT)) {
                    deleteTopicsOf(input);
                }
                String keep = System.getProperty(KEEP_LOGS_PROPERTY);
                if (keep != null && Files.exists(log)) {
                    Files.createDirectories(Path.of(keep));
                    Files.copy(log, Path.of(keep, run + ".log"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
                ChildJvm.deleteRecursively(work);
            }
        }
    }

    /**
     * The table of all rounds: per system, the median and (in brackets) the range of each figure over its
     * exact runs. Markdown, to paste into the README.
     */
    public static String table(Settings settings, Input input, List<Run> runs) {
        return String.format(Locale.ROOT, "%,d lines, %,d words, %,d distinct; %d partitions, parallelism %d, "
                        + "%d ms checkpoint or commit interval; median (min-max) of %d round(s); times from process start%n%n",
                input.lines(), input.words(), input.expected().size(), settings.partitions(), settings.parallelism(),
                settings.intervalMillis(), settings.rounds())
                + markdown(settings.systems(), runs, Run::system, Run::exact, withBaseline(settings, List.of(
                        new Column<>("first input s", Run::firstInput, "%.1f"),
                        new Column<>("first output s", Run::firstOutput, "%.1f"),
                        new Column<>("all output s", Run::allOutput, "%.1f")),
                        new Column<>("all output ÷ raw tx loop's", sameRound(runs, Run::system, Run::round, Run::exact,
                                Run::allOutput, (mine, loop) -> mine / loop), "%.2f"), List.of(
                        new Column<>("words/s", Run::wordsPerSecond, "%,.0f"),
                        new Column<>("job CPU s", Run::jobCpu, "%.1f"),
                        new Column<>("of which JIT s", r -> r.jvmCpu().jit(), "%.1f"),
                        new Column<>("of which GC s", r -> r.jvmCpu().gc(), "%.1f"),
                        new Column<>("of which job threads s", r -> r.jvmCpu().jobThreads(), "%.1f"),
                        new Column<>("broker CPU s", Run::brokerCpu, "%.1f"),
                        new Column<>("peak RSS MB", Run::peakRssMb, "%.0f"))));
    }

    /**
     * Recovery per system: median (range) of the runs that kept the system's promise (exact; for an
     * at-least-once system, nothing lost, and its duplicates counted; for the raw transactional loop, which restores
     * nothing, that it resumed at its committed offsets). With the loop among the systems, each restart is also
     * compared with the loop's restart of the same round: what restoring costs over a bare cold start.
     */
    public static String recoveryTable(Settings settings, List<Recovery> runs) {
        return markdown(settings.systems(), runs, Recovery::system, Recovery::keptItsPromise, "runs as promised",
                withBaseline(settings, List.of(
                        new Column<>("killed after s", Recovery::killedAfter, "%.1f"),
                        new Column<>("duplicates", r -> r.system().restores() ? r.duplicates() : Double.NaN, "%,.0f"),
                        new Column<>("restart to first new output s", Recovery::toFirstNewOutput, "%.2f")),
                        new Column<>("restart − raw tx loop's s", sameRound(runs, Recovery::system, Recovery::round,
                                Recovery::keptItsPromise, Recovery::toFirstNewOutput, (mine, loop) -> mine - loop),
                                "%+.2f"), List.of(
                        new Column<>("job CPU s by then", Recovery::cpuToFirstNewOutput, "%.2f"),
                        new Column<>("of which JIT s", r -> r.jvmCpuToFirstNewOutput().jit(), "%.2f"),
                        new Column<>("of which job threads s", r -> r.jvmCpuToFirstNewOutput().jobThreads(), "%.2f"),
                        new Column<>("restart to all output s", Recovery::toAllOutput, "%.1f"))));
    }

    /** Latency per system: median (range) over its exact runs of each run's p50, p99 and max. */
    public static String latencyTable(Settings settings, List<Latency> runs) {
        return markdown(settings.systems(), runs, Latency::system, Latency::exact, withBaseline(settings, List.of(
                new Column<>("lines/s", Latency::linesPerSecond, "%,.0f"),
                new Column<>("p50 ms", Latency::p50, "%.0f"),
                new Column<>("p99 ms", Latency::p99, "%.0f")),
                new Column<>("p99 − raw tx loop's ms", sameRound(runs, Latency::system, Latency::round, Latency::exact,
                        Latency::p99, (mine, loop) -> mine - loop), "%+.0f"), List.of(
                new Column<>("max ms", Latency::max, "%.0f"))));
    }

    /**
     * The columns, with {@code paired} between the two lists when the raw transactional loop is among the systems:
     * a figure against the loop's in the same round, which ran just before or after it on the same broker, so that
     * it holds on a machine whose speed changes between rounds more than the difference it shows.
     */
    private static <R> List<Column<R>> withBaseline(Settings settings, List<Column<R>> before, Column<R> paired,
                                                    List<Column<R>> after) {
        List<Column<R>> columns = new ArrayList<>(before);
        if (settings.systems().contains(BenchSystem.RAW_TRANSACTIONAL)) {
            columns.add(paired);
        }
        columns.addAll(after);
        return columns;
    }

    /**
     * A run's {@code figure} compared ({@code compare(mine, loop's)}) with that of the raw transactional loop's
     * exact run of the same round; NaN (left out of the cell) for the loop itself and for a round in which the
     * loop has no exact run.
     */
    static <R> ToDoubleFunction<R> sameRound(List<R> runs, Function<R, BenchSystem> systemOf, ToIntFunction<R> roundOf,
                                             Predicate<R> exact, ToDoubleFunction<R> figure,
                                             DoubleBinaryOperator compare) {
        Map<Integer, Double> loop = new HashMap<>();
        for (R r : runs) {
            if (systemOf.apply(r) == BenchSystem.RAW_TRANSACTIONAL && exact.test(r)) {
                loop.put(roundOf.applyAsInt(r), figure.applyAsDouble(r));
            }
        }
        return r -> {
            Double base = loop.get(roundOf.applyAsInt(r));
            return systemOf.apply(r) == BenchSystem.RAW_TRANSACTIONAL || base == null ? Double.NaN
                    : compare.applyAsDouble(figure.applyAsDouble(r), base);
        };
    }

    /**
     * Where the checkpoints of the systems that report them (Onceflow) spent their time during the latency
     * runs: when each phase ended, in ms after the trigger, median over the checkpoints of a run (p99 for the
     * last), then the median over runs; or null when no run reported any.
     */
    public static String checkpointPhaseTable(Settings settings, List<Latency> runs) {
        List<Latency> reported = runs.stream().filter(r -> r.phases() != null).toList();
        if (reported.isEmpty()) {
            return null;
        }
        List<Column<Latency>> columns = new ArrayList<>();
        columns.add(new Column<>("checkpoints", r -> r.phases().checkpoints(), "%,.0f"));
        for (int i = 0; i < CheckpointPhases.NAMES.size(); i++) {
            final int phase = i;
            columns.add(new Column<>(CheckpointPhases.NAMES.get(i), r -> r.phases().p50(phase), "%,.1f"));
        }
        columns.add(new Column<>("committed p99", r -> r.phases().p99(CheckpointPhases.NAMES.size() - 1), "%,.1f"));
        return markdown(settings.systems(), reported, Latency::system, Latency::exact, columns);
    }

    /** One figure of a table: its title, how to get it from a run, how to print it. */
    private record Column<R>(String title, ToDoubleFunction<R> figure, String format) {
    }

    /** A row per system that has runs: how many were exact, then each column's median (range) over those. */
    private static <R> String markdown(List<BenchSystem> systems, List<R> runs, Function<R, BenchSystem> systemOf,
                                       Predicate<R> exact, List<Column<R>> columns) {
        return markdown(systems, runs, systemOf, exact, "exact runs", columns);
    }

    private static <R> String markdown(List<BenchSystem> systems, List<R> runs, Function<R, BenchSystem> systemOf,
                                       Predicate<R> exact, String promise, List<Column<R>> columns) {
        StringBuilder out = new StringBuilder("| system | " + promise + " |");
        columns.forEach(c -> out.append(' ').append(c.title()).append(" |"));
        out.append("\n| --- | --- |").append(" --- |".repeat(columns.size())).append('\n');
        for (BenchSystem system : systems) {
            List<R> mine = runs.stream().filter(r -> systemOf.apply(r) == system).toList();
            if (mine.isEmpty()) {
                continue;
            }
            List<R> good = mine.stream().filter(exact).toList();
            out.append("| ").append(system.label()).append(" | ").append(good.size()).append('/').append(mine.size())
                    .append(" |");
            for (Column<R> c : columns) {
                out.append(' ').append(good.isEmpty() ? "-" : cell(good, c.figure(), c.format())).append(" |");
            }
            out.append('\n');
        }
        return out.toString();
    }

    /**
     * The rate the latency phase runs at unless one is given: half of the slowest system's median words
     * per second, in lines of three words.
     */
    public static double halfOfSlowest(List<Run> runs) {
        Map<BenchSystem, List<Double>> rates = new HashMap<>();
        runs.stream().filter(Run::exact).forEach(r -> rates.computeIfAbsent(r.system(), k -> new ArrayList<>())
                .add(r.wordsPerSecond()));
        double slowest = rates.values().stream().mapToDouble(v -> v.stream().sorted().toList().get(v.size() / 2))
                .min().orElseThrow(() -> new IllegalStateException("no exact throughput run to take a rate from"));
        return slowest / 2 / 3;
    }

    /** Median (min-max) of the figure over the runs that have it (not NaN), or "-" when none has. */
    static <R> String cell(List<R> runs, ToDoubleFunction<R> figure, String format) {
        double[] v = runs.stream().mapToDouble(figure).filter(x -> !Double.isNaN(x)).sorted().toArray();
        if (v.length == 0) {
            return "-";
        }
        double median = v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
        String m = String.format(Locale.ROOT, format, median);
        if (v.length == 1) {
            return m;
        }
        String low = String.format(Locale.ROOT, format, v[0]);
        String high = String.format(Locale.ROOT, format, v[v.length - 1]);
        // a signed bound after a dash reads as a subtraction ("-1043--1034"): signed ranges are written with "to"
        boolean signed = low.startsWith("-") || low.startsWith("+") || high.startsWith("+");
        return m + " (" + low + (signed ? " to " : "-") + high + ")";
    }

    private Properties client() {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        return p;
    }

    private Properties readCommitted() {
        Properties p = client();
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "5000");
        return p;
    }

    private void createTopic(String topic) throws Exception {
        try (Admin admin = Admin.create(client())) {
            Topics.create(admin, settings.partitions(), topic);
        }
    }

    private Map<TopicPartition, Long> endOffsets(String topic) {
        Properties p = readCommitted();
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_uncommitted");
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
            List<TopicPartition> partitions = new ArrayList<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            // a topic created a moment ago may not be in this client's metadata yet
            while (partitions.size() < settings.partitions() && System.nanoTime() < deadline) {
                partitions.clear();
                consumer.partitionsFor(topic, Duration.ofSeconds(30))
                        .forEach(pi -> partitions.add(new TopicPartition(topic, pi.partition())));
            }
            if (partitions.size() < settings.partitions()) {
                throw new IllegalStateException("Topic '" + topic + "' has " + partitions.size() + " partitions, not "
                        + settings.partitions() + ", 30 s after it was created");
            }
            return consumer.endOffsets(partitions, Duration.ofSeconds(30));
        }
    }

    /** The run's output and whatever topics the system made for itself (Kafka Streams' repartition and changelog). */
    private void deleteTopicsOf(String run) {
        try (Admin admin = Admin.create(client())) {
            List<String> mine = admin.listTopics().names().get(30, TimeUnit.SECONDS).stream()
                    .filter(t -> t.startsWith(run)).toList();
            admin.deleteTopics(mine).all().get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            progress.println("  (could not delete the topics of " + run + ": " + e + ")");
        }
    }

    /** User plus system CPU time of a process so far, in seconds. */
    static double cpuSeconds(long pid) throws IOException {
        return cpuTicks(pid) / CLOCK_TICKS_PER_SECOND;
    }

    /** User plus system CPU time of a process so far, in clock ticks (fields 14 and 15 of /proc/PID/stat). */
    static long cpuTicks(long pid) throws IOException {
        return ticks(Files.readString(Path.of("/proc", Long.toString(pid), "stat")));
    }

    /** User plus system CPU time from the text of a process's or thread's {@code stat} file, in clock ticks. */
    private static long ticks(String stat) {
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
    }

    /** The CPU time of a JVM's threads so far (see {@link JvmCpu}). */
    static JvmCpu jvmCpu(long pid) throws IOException {
        long jit = 0;
        long gc = 0;
        Map<String, long[]> others = new HashMap<>(); // name -> {threads, ticks}
        try (var threads = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
            for (Path thread : (Iterable<Path>) threads::iterator) {
                String stat;
                try {
                    stat = Files.readString(thread.resolve("stat"));
                } catch (IOException ended) {
                    continue; // the thread ended since the listing (a process that ended fails the listing)
                }
                String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
                long ticks = ticks(stat);
                if (name.startsWith("C1 CompilerThre") || name.startsWith("C2 CompilerThre")) {
                    jit += ticks;
                } else if (name.startsWith("GC Thread") || name.startsWith("G1 ")) {
                    gc += ticks;
                } else {
                    long[] group = others.computeIfAbsent(name, n -> new long[2]);
                    group[0]++;
                    group[1] += ticks;
                }
            }
        }
        List<ThreadCpu> busiest = others.entrySet().stream()
                .map(e -> new ThreadCpu(e.getKey(), (int) e.getValue()[0], e.getValue()[1] / CLOCK_TICKS_PER_SECOND))
                .sorted(Comparator.comparingDouble(ThreadCpu::seconds).reversed().thenComparing(ThreadCpu::name))
                .toList();
        return new JvmCpu(jit / CLOCK_TICKS_PER_SECOND, gc / CLOCK_TICKS_PER_SECOND,
                busiest.stream().mapToDouble(ThreadCpu::seconds).sum(), busiest);
    }

    /** The peak resident set of a process (VmHWM), in kB. */
    static long peakRssKb(long pid) throws IOException {
        return Files.readAllLines(Path.of("/proc", Long.toString(pid), "status")).stream()
                .filter(l -> l.startsWith("VmHWM:")).mapToLong(l -> Long.parseLong(l.replaceAll("[^0-9]", "")))
                .findFirst().orElse(0);
    }
}
