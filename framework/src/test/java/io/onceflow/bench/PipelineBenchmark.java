package io.onceflow.bench;

import io.onceflow.api.CheckpointStats;
import io.onceflow.api.JobClient;
import io.onceflow.api.JobMetrics;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.api.functions.Collector;
import io.onceflow.api.functions.FlatMapFunction;
import io.onceflow.api.serialization.VersionedSerializer;
import io.onceflow.api.sink.Sink;
import io.onceflow.api.sink.SinkInitContext;
import io.onceflow.api.sink.SinkWriter;
import io.onceflow.api.source.Boundedness;
import io.onceflow.api.source.InputStatus;
import io.onceflow.api.source.ReaderOutput;
import io.onceflow.api.source.Source;
import io.onceflow.api.source.SourceReader;
import io.onceflow.api.source.SourceReaderContext;
import io.onceflow.api.source.SourceSplit;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Throughput of source → flatMap → keyBy → count → discarding sink at parallelism 2, with
 * checkpointing off and with exactly-once checkpoints every 1 s (and 100 ms), measured in one run so
 * the ratio holds on a noisy machine. Run with
 * {@code mvn -q -pl framework test-compile exec:java -Dexec.classpathScope=test -Dexec.mainClass=io.onceflow.bench.PipelineBenchmark}
 * (optional argument: lines per run, default 8,000,000 lines of 4 words).
 */
public final class PipelineBenchmark {

    private static final int WORDS_PER_LINE = 4;
    private static final int VOCABULARY = 10_000;

    private PipelineBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        long lines = args.length > 0 ? Long.parseLong(args[0]) : 8_000_000;
        System.out.printf(Locale.ROOT, "Onceflow pipeline benchmark: %,d lines x %d words, parallelism 2, %d cores%n",
                lines, WORDS_PER_LINE, Runtime.getRuntime().availableProcessors());
        run("warm-up", lines / 4, null);
        List<Result> results = new ArrayList<>();
        for (int round = 0; round < 3; round++) {
            results.add(run("checkpointing off", lines, null));
            results.add(run("exactly-once, 1 s", lines, Duration.ofSeconds(1)));
            results.add(run("exactly-once, 100 ms", lines, Duration.ofMillis(100)));
        }
        double baseline = best(results, "checkpointing off");
        System.out.println();
        System.out.printf(Locale.ROOT, "%-22s %14s %9s %12s %10s %10s%n", "configuration", "words/s", "vs off",
                "checkpoints", "p50 ms", "p99 ms");
        for (String name : List.of("checkpointing off", "exactly-once, 1 s", "exactly-once, 100 ms")) {
            double rate = best(results, name);
            List<Long> durations = new ArrayList<>();
            long count = 0;
            for (Result r : results) {
                if (r.name.equals(name)) {
                    durations.addAll(r.durations);
                    count += r.durations.size();
                }
            }
            durations.sort(Long::compare);
            System.out.printf(Locale.ROOT, "%-22s %,14.0f %8.1f%% %12d %10s %10s%n", name, rate, 100 * rate / baseline, count,
                    percentile(durations, 0.50), percentile(durations, 0.99));
        }
        System.out.println("(best of 3 runs each; checkpoint durations from trigger to completion, all runs)");
    }

    private record Result(String name, double wordsPerSecond, List<Long> durations) {
    }

    private static double best(List<Result> results, String name) {
        return results.stream().filter(r -> r.name.equals(name)).mapToDouble(Result::wordsPerSecond).max().orElse(0);
    }

    private static String percentile(List<Long> sorted, double p) {
        if (sorted.isEmpty()) {
            return "-";
        }
        return Long.toString(sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(p * sorted.size()) - 1)));
    }

    private static Result run(String name, long lines, Duration interval) throws Exception {
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(2);
        if (interval != null) {
            env.enableCheckpointing(interval);
            env.getCheckpointConfig().setCheckpointStorage("memory:"); // repeats output only after a process restart
        }
        env.fromSource(new LineSource(lines), "lines").uid("source")
                .flatMap(new Split()).uid("split")
                .keyBy(w -> w)
                .count().uid("count")
                .sinkTo(new DiscardingSink<>()).uid("sink");
        long start = System.nanoTime();
        JobClient job = env.executeAsync("benchmark");
        job.awaitTermination(null);
        double seconds = (System.nanoTime() - start) / 1e9;
        JobMetrics metrics = job.getMetrics();
        List<Long> durations = new ArrayList<>();
        for (CheckpointStats s : job.getCompletedCheckpoints()) {
            durations.add(s.durationMillis());
        }
        if (!durations.isEmpty()) {
            durations.remove(durations.size() - 1); // the final checkpoint of the bounded run
        }
        double rate = metrics.numRecordsOut() / seconds;
        System.out.printf(Locale.ROOT, "  %-22s %,12d words in %6.2f s = %,12.0f words/s, %d checkpoints%n", name,
                metrics.numRecordsOut(), seconds, rate, durations.size());
        return new Result(name, rate, durations);
    }

    static final class Split implements FlatMapFunction<String, String> {
        @Override
        public void flatMap(String line, Collector<String> out) {
            int start = 0;
            for (int i = 0; i <= line.length(); i++) {
                if (i == line.length() || line.charAt(i) == ' ') {
                    if (i > start) {
                        out.collect(line.substring(start, i));
                    }
                    start = i + 1;
                }
            }
        }
    }

    static final class DiscardingSink<T> implements Sink<T> {
        @Override
        public SinkWriter<T> createWriter(SinkInitContext context) {
            return element -> {
            };
        }
    }

    record LineSplit(int index, long next) implements SourceSplit {
        @Override
        public String splitId() {
            return "lines-" + index;
        }
    }

    /** Two splits of synthetic lines of four words from a fixed vocabulary. */
    static final class LineSource implements Source<String, LineSplit> {
        private final long lines;

        LineSource(long lines) {
            this.lines = lines;
        }

        @Override
        public Boundedness getBoundedness() {
            return Boundedness.BOUNDED;
        }

        @Override
        public List<LineSplit> createInitialSplits() {
            return List.of(new LineSplit(0, 0), new LineSplit(1, 1));
        }

        @Override
        public SourceReader<String, LineSplit> createReader(SourceReaderContext context) {
            return new SourceReader<>() {
                private final List<long[]> splits = new ArrayList<>();
                private final String[] words = new String[VOCABULARY];

                @Override
                public void addSplits(List<LineSplit> added) {
                    for (LineSplit s : added) {
                        splits.add(new long[] {s.index(), s.next()});
                    }
                    for (int i = 0; i < VOCABULARY; i++) {
                        words[i] = "word" + i;
                    }
                }

                @Override
                public InputStatus pollNext(ReaderOutput<String> output) {
                    boolean any = false;
                    for (long[] s : splits) {
                        for (int n = 0; n < 64 && s[1] < lines; n++) {
                            long g = s[1];
                            int w = (int) ((g * 7919) % VOCABULARY);
                            output.collect(words[w] + " " + words[(w + 1) % VOCABULARY] + " "
                                    + words[(w + 17) % VOCABULARY] + " " + words[(w + 331) % VOCABULARY]);
                            s[1] += 2;
                            any = true;
                        }
                    }
                    return any ? InputStatus.MORE_AVAILABLE : InputStatus.END_OF_INPUT;
                }

                @Override
                public List<LineSplit> snapshotState(long checkpointId) {
                    List<LineSplit> result = new ArrayList<>();
                    for (long[] s : splits) {
                        result.add(new LineSplit((int) s[0], s[1]));
                    }
                    return result;
                }
            };
        }

        @Override
        public VersionedSerializer<LineSplit> getSplitSerializer() {
            return new VersionedSerializer<>() {
                @Override
                public int getVersion() {
                    return 1;
                }

                @Override
                public byte[] serialize(LineSplit s) {
                    return ByteBuffer.allocate(12).putInt(s.index()).putLong(s.next()).array();
                }

                @Override
                public LineSplit deserialize(int version, byte[] bytes) {
                    ByteBuffer b = ByteBuffer.wrap(bytes);
                    return new LineSplit(b.getInt(), b.getLong());
                }
            };
        }
    }
}
