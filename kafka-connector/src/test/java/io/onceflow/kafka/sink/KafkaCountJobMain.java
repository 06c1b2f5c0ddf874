package io.onceflow.kafka.sink;

import io.onceflow.api.JobMetrics;
import io.onceflow.api.StreamEnvironment;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The Kafka count pipeline as a program of its own, for {@link KafkaKillDashNineTest}: file-system
 * checkpoints, so a new process resumes after {@code kill -9}.
 *
 * <p>Arguments: bootstrap servers, input topic, output topic, checkpoint directory, parallelism, and
 * optionally {@code take-over}, {@code dead-letters=<topic>} and {@code rocksdb} (the RocksDB state backend, not
 * the heap's).
 */
public final class KafkaCountJobMain {

    private KafkaCountJobMain() {
    }

    public static void main(String[] args) throws Exception {
        java.util.List<String> flags = java.util.Arrays.asList(args).subList(5, args.length);
        String deadLetters = flags.stream().filter(f -> f.startsWith("dead-letters=")).map(f -> f.substring(13))
                .findFirst().orElse(null);
        StreamEnvironment env = CountPipeline.build(args[0], args[1], args[2], Integer.parseInt(args[4]),
                DeliveryGuarantee.EXACTLY_ONCE, "kill-" + args[2], Duration.ofMillis(200), deadLetters);
        env.getCheckpointConfig().setCheckpointStorage(Path.of(args[3]).toUri().toString());
        env.getCheckpointConfig().setTakeOver(flags.contains("take-over"));
        if (flags.contains("rocksdb")) {
            env.setStateBackend(io.onceflow.api.RocksDBStateBackend.create()
                    .withLocalDirectory(Path.of(args[3]).resolveSibling("rocksdb-working")));
        }
        JobMetrics metrics = env.execute("kafka-count");
        // not the record's own toString: RecordMethodsAtStartTest finds any record method the job's life links
        System.out.println("FINISHED: " + metrics.status() + ", " + metrics.numRestarts() + " restarts, "
                + metrics.numberOfCompletedCheckpoints() + " checkpoints, " + metrics.numRecordsIn() + " records in");
    }
}
