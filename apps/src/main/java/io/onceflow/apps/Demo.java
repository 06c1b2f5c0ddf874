package io.onceflow.apps;

import io.onceflow.api.JobClient;
import io.onceflow.api.JobMetrics;
import io.onceflow.api.KeyedValue;
import io.onceflow.api.RestartStrategies;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.api.functions.KeyedProcessFunction;
import io.onceflow.kafka.broker.KafkaBrokerLauncher;
import io.onceflow.kafka.broker.RunningKafkaBroker;
import io.onceflow.kafka.sink.DeliveryGuarantee;
import io.onceflow.runtime.fault.FaultPoint;
import io.onceflow.kafka.audit.ExactlyOnceAudit;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The demo: a real broker in a temporary directory, a sample text, the word-count pipeline with a crash
 * injected right after a checkpoint completed (before its transactions were committed), and a check of
 * the output by an independent read_committed consumer.
 */
final class Demo {

    /** What to run; tests use a broken counter to show the check fails on wrong output. */
    record Options(int lines, int parallelism, int linesPerSecondPerSubtask, int crashAfterCheckpoint,
                   KeyedProcessFunction<String, String, KeyedValue<String, Long>> counter) {
        static Options defaults() {
            return new Options(20_000, 2, 1_500, 4, new WordCounter());
        }
    }

    /** The outcome: the check's result and the job's metrics. */
    record Result(ExactlyOnceAudit.Report check, JobMetrics metrics, long inputWords, Duration took) {
        boolean passed() {
            return check.exact() && check.records() == inputWords;
        }
    }

    /** The crash the demo causes on purpose. */
    static final class DemoCrash extends RuntimeException {
        DemoCrash(String message) {
            super(message);
        }
    }

    private Demo() {
    }

    static Result run(Options o, PrintStream out) throws Exception {
        long start = System.nanoTime();
        Path work = Files.createTempDirectory("onceflow-demo-");
        try {
            out.println("Starting a Kafka broker (KRaft, in a child JVM) ...");
            try (RunningKafkaBroker broker = new KafkaBrokerLauncher().dataDirectory(work.resolve("kafka")).start()) {
                String bootstrap = broker.bootstrapServers();
                out.printf(Locale.ROOT, "Kafka broker ready at %s after %.1f s%n", bootstrap, seconds(start));
                SampleText text = SampleText.generate(o.lines(), 42);
                try (KafkaChecks kafka = new KafkaChecks(bootstrap)) {
                    kafka.ensureTopic("demo-input", 4);
                    kafka.ensureTopic("demo-output", 4);
                }
                writeLines(bootstrap, text.lines);
                out.printf(Locale.ROOT, "Wrote %,d lines (%,d words, %d distinct) to topic demo-input%n",
                        text.lines.size(), text.words, text.counts.size());

                WordCountJob.Settings settings = WordCountJob.Settings.of(bootstrap, "demo-input", "demo-output",
                        work.resolve("checkpoints"), Duration.ofMillis(500), o.parallelism(),
                        DeliveryGuarantee.EXACTLY_ONCE, "demo-wordcount", true);
                StreamEnvironment env = WordCountJob.build(settings, o.counter(), new Pace(o.linesPerSecondPerSubtask()));
                env.setRestartStrategy(RestartStrategies.fixedDelay(3, Duration.ofSeconds(1)));
                AtomicBoolean crashed = new AtomicBoolean();
                env.setFaultInjector((point, uid, subtask, checkpointId) -> {
                    if (point == FaultPoint.AFTER_CHECKPOINT_COMPLETE_BEFORE_NOTIFY && checkpointId >= o.crashAfterCheckpoint()
                            && crashed.compareAndSet(false, true)) {
                        out.println("  !! injected crash: checkpoint " + checkpointId + " is complete but its Kafka "
                                + "transactions are not committed yet; the job must recover and commit them");
                        throw new DemoCrash("demo crash after checkpoint " + checkpointId);
                    }
                });
                out.printf(Locale.ROOT, "Running word count (parallelism %d, exactly-once, checkpoints every 500 ms) ...%n",
                        o.parallelism());
                JobClient job = env.executeAsync("demo-wordcount");
                JobMetrics metrics = watch(job, out);
                out.println("Reading demo-output with an independent read_committed consumer ...");
                Properties client = new Properties();
                client.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
                ExactlyOnceAudit.Report check = ExactlyOnceAudit.verify(client, "demo-output", text.counts,
                        Duration.ofSeconds(60));
                Result result = new Result(check, metrics, text.words, Duration.ofNanos(System.nanoTime() - start));
                summary(result, out);
                return result;
            }
        } finally {
            deleteRecursively(work);
        }
    }

    private static JobMetrics watch(JobClient job, PrintStream out) throws Exception {
        while (true) {
            try {
                job.awaitTermination(Duration.ofSeconds(1));
                return job.getMetrics();
            } catch (java.util.concurrent.TimeoutException e) {
                JobMetrics m = job.getMetrics();
                out.printf(Locale.ROOT, "  %,7d lines read  %,8d counts written  %3d checkpoints  %d restarts%n",
                        m.numRecordsIn(), m.numRecordsOut(), m.numberOfCompletedCheckpoints(), m.numRestarts());
            }
        }
    }

    private static void summary(Result r, PrintStream out) {
        ExactlyOnceAudit.Report c = r.check();
        out.println();
        out.println("Summary");
        out.printf(Locale.ROOT, "  words in input          %,d%n", r.inputWords());
        out.printf(Locale.ROOT, "  counts in output        %,d (read_committed)%n", c.records());
        out.printf(Locale.ROOT, "  duplicates              %d%n", c.duplicates());
        out.printf(Locale.ROOT, "  lost                    %d%n", c.gaps());
        out.printf(Locale.ROOT, "  unexpected              %d%n", c.unexpected());
        out.printf(Locale.ROOT, "  checkpoints completed   %d%n", r.metrics().numberOfCompletedCheckpoints());
        out.printf(Locale.ROOT, "  restarts                %d%n", r.metrics().numRestarts());
        out.printf(Locale.ROOT, "  time taken              %.1f s%n", r.took().toMillis() / 1000.0);
        if (r.passed()) {
            out.println("PASSED: every word's counts are exactly 1, 2, ..., n, despite the crash.");
        } else {
            out.println("FAILED: the output is not exact" + (c.examples().isEmpty() ? "" : ", e.g. " + c.examples()));
        }
    }

    private static void writeLines(String bootstrap, List<String> lines) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.LINGER_MS_CONFIG, "10");
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            for (String line : lines) {
                producer.send(new ProducerRecord<>("demo-input", line));
            }
        }
    }

    private static double seconds(long startNanos) {
        return (System.nanoTime() - startNanos) / 1e9;
    }

    private static void deleteRecursively(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (Exception ignored) {
            // best effort: it is a temporary directory
        }
    }
}
