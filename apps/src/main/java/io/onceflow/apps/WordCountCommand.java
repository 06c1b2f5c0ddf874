package io.onceflow.apps;

import io.onceflow.api.JobClient;
import io.onceflow.api.JobExecutionException;
import io.onceflow.api.JobMetrics;
import io.onceflow.api.JobStatus;
import io.onceflow.kafka.sink.DeliveryGuarantee;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code onceflow wordcount}: the word-count pipeline against your own Kafka. */
@Command(name = "wordcount", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Read text lines from the input topic, split them on whitespace, keep a running count per word, "
                + "and for every word occurrence write one record to the output topic: key = the word, value = its "
                + "count so far (1, 2, 3, ...).",
                "Runs until stopped. Started again with the same arguments (after Ctrl-C, a crash or kill -9) it "
                + "resumes from its latest completed checkpoint."})
final class WordCountCommand implements Callable<Integer> {

    @Option(names = "--bootstrap-servers", required = true, paramLabel = "HOST:PORT", description = "Kafka to read and write.")
    String bootstrapServers;

    @Option(names = "--input", required = true, paramLabel = "TOPIC", description = "Topic of text lines (must exist).")
    String input;

    @Option(names = "--output", required = true, paramLabel = "TOPIC",
            description = "Topic for (word, count); created with the input's partition count if missing.")
    String output;

    @Option(names = "--checkpoint-dir", required = true, paramLabel = "DIR", description = "Where checkpoints are kept.")
    Path checkpointDir;

    @Option(names = "--checkpoint-interval", defaultValue = "1s", paramLabel = "DURATION",
            description = "Time between checkpoints, e.g. 500ms, 1s, 1m (default: ${DEFAULT-VALUE}).")
    Duration interval;

    @Option(names = "--parallelism", defaultValue = "2", paramLabel = "N", description = "Parallel subtasks (default: ${DEFAULT-VALUE}).")
    int parallelism;

    @Option(names = "--delivery", defaultValue = "exactly-once", paramLabel = "GUARANTEE",
            description = "exactly-once or at-least-once (default: ${DEFAULT-VALUE}).")
    String delivery;

    @Option(names = "--job-name", defaultValue = "wordcount", paramLabel = "NAME",
            description = "Names the job's checkpoints and Kafka transactions (default: ${DEFAULT-VALUE}).")
    String jobName;

    @Override
    public Integer call() throws Exception {
        DeliveryGuarantee guarantee = switch (delivery.toLowerCase(Locale.ROOT)) {
            case "exactly-once" -> DeliveryGuarantee.EXACTLY_ONCE;
            case "at-least-once" -> DeliveryGuarantee.AT_LEAST_ONCE;
            default -> throw new UserError("--delivery must be exactly-once or at-least-once, was '" + delivery + "'");
        };
        if (parallelism < 1 || parallelism > 128) {
            throw new UserError("--parallelism must be between 1 and 128, was " + parallelism);
        }
        if (interval.toMillis() < 10) {
            throw new UserError("--checkpoint-interval must be at least 10ms, was " + interval.toMillis() + "ms");
        }
        requireWritable(checkpointDir);
        try (KafkaChecks kafka = new KafkaChecks(bootstrapServers)) {
            kafka.requireReachable();
            int partitions = kafka.requireTopic(input, "input");
            if (kafka.ensureTopic(output, partitions)) {
                System.out.println("Created output topic '" + output + "' with " + partitions + " partitions");
            }
        }
        WordCountJob.Settings settings = new WordCountJob.Settings(bootstrapServers, input, output, checkpointDir,
                interval, parallelism, guarantee, jobName, false);
        JobClient job = WordCountJob.build(settings).executeAsync(jobName);
        System.out.println("wordcount '" + jobName + "' running: " + input + " -> " + output + ", " + delivery
                + ", checkpoints every " + interval.toMillis() + " ms in " + checkpointDir + ". Ctrl-C stops it.");
        Thread stopper = new Thread(() -> stop(job), "onceflow wordcount stop");
        Runtime.getRuntime().addShutdownHook(stopper);
        long lastReport = 0;
        while (true) {
            try {
                JobStatus status = job.awaitTermination(Duration.ofSeconds(1));
                if (status.isTerminal()) {
                    return 0;
                }
            } catch (java.util.concurrent.TimeoutException e) {
                if (System.nanoTime() - lastReport > TimeUnit.SECONDS.toNanos(10)) {
                    lastReport = System.nanoTime();
                    report(job.getMetrics());
                }
            } catch (JobExecutionException e) {
                throw new UserError("the job failed: " + Errors.oneLine(e.getCause() != null ? e.getCause() : e), e);
            }
        }
    }

    private static void stop(JobClient job) {
        if (job.getStatus().isTerminal()) {
            return;
        }
        try {
            long id = job.stop(Duration.ofSeconds(60));
            System.out.println("Stopped after checkpoint " + id + "; start again with the same arguments to continue.");
        } catch (Exception e) {
            System.err.println("Stopping took too long or failed (" + Errors.oneLine(e) + "); the next start resumes "
                    + "from the latest completed checkpoint.");
            job.cancel();
        }
    }

    static void report(JobMetrics m) {
        System.out.printf(Locale.ROOT, "  %,d lines read, %,d counts written, %d checkpoints, %d restarts%n",
                m.numRecordsIn(), m.numRecordsOut(), m.numberOfCompletedCheckpoints(), m.numRestarts());
    }

    static void requireWritable(Path dir) {
        try {
            Files.createDirectories(dir);
            Path probe = Files.createTempFile(dir, ".probe", ".tmp");
            Files.delete(probe);
        } catch (IOException | SecurityException e) {
            throw new UserError("Cannot write to the checkpoint directory " + dir + " (" + e.getClass().getSimpleName()
                    + "): choose a directory this user can create and write");
        }
    }
}
