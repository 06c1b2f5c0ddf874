package io.onceflow.kafka.torture;

import io.onceflow.api.JobClient;
import io.onceflow.api.RestartStrategies;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.kafka.sink.KafkaSink;
import io.onceflow.kafka.source.DeadLetter;
import io.onceflow.kafka.source.KafkaRecordDeserializer;
import io.onceflow.kafka.source.KafkaSource;
import io.onceflow.runtime.storage.FileSystemCheckpointStorage;
import io.onceflow.testing.FailingCheckpointStorage;
import io.onceflow.runtime.fault.FaultPoint;
import io.onceflow.testing.PacedSplit;
import io.onceflow.testing.RunningCount;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * The job {@link TortureTest} keeps killing: Kafka (unbounded, strict UTF-8, dead letters) → split →
 * keyed running count → Kafka, exactly-once, with checkpoint storage that fails now and then (seeded),
 * short client timeouts (so a paused broker fails requests within seconds), a restart strategy that
 * never gives up, and a graceful stop on SIGTERM.
 *
 * <p>Arguments: bootstrap servers, input, output, dead-letter topic, checkpoint directory, seed, and
 * optionally {@code stall}: at the first checkpoint completed after this run wrote output, print
 * {@code WINDOW <id>} and stall between the metadata being durable and the sinks being told, so the
 * test can kill the process exactly there.
 */
public final class TortureJobMain {

    private TortureJobMain() {
    }

    /** Whether the storage fails checkpoint {@code id}'s writes of {@code kind}: about 1 in 8, the same in every run. */
    static boolean storageFault(long seed, long id, int kind) {
        long h = (seed * 0x9E3779B97F4A7C15L) ^ (id * 0xBF58476D1CE4E5B9L) ^ kind;
        h ^= h >>> 31;
        h *= 0x94D049BB133111EBL;
        h ^= h >>> 29;
        boolean fail = Math.floorMod(h, 8) == 0;
        if (fail) {
            System.out.println("STORAGE-FAULT " + (kind == 0 ? "state" : "metadata") + " of checkpoint " + id);
        }
        return fail;
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0];
        String input = args[1];
        String output = args[2];
        String deadLetters = args[3];
        Path checkpoints = Path.of(args[4]);
        long seed = Long.parseLong(args[5]);
        boolean stall = List.of(args).contains("stall");

        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(2);
        env.enableCheckpointing(Duration.ofMillis(200));
        env.getCheckpointConfig().setCheckpointTimeout(Duration.ofSeconds(20));
        env.getCheckpointConfig().setTolerableCheckpointFailureNumber(2);
        env.getCheckpointConfig().setInlineStateThresholdBytes(0); // state files too, so their writes can fail
        env.getCheckpointConfig().setCheckpointStorage(FailingCheckpointStorage
                .wrap(new FileSystemCheckpointStorage(checkpoints))
                .failStateOf(id -> storageFault(seed, id, 0))
                .failMetadataOf(id -> storageFault(seed, id, 1)));
        env.setRestartStrategy(RestartStrategies.exponentialDelay(Duration.ofMillis(100), Duration.ofSeconds(1), 2.0,
                Duration.ofHours(1)));
        long[] firstCompleted = {-1};
        if (stall) {
            env.setFaultInjector((point, uid, subtask, checkpointId) -> {
                if (point == FaultPoint.AFTER_CHECKPOINT_COMPLETE_BEFORE_NOTIFY) {
                    if (firstCompleted[0] < 0) {
                        firstCompleted[0] = checkpointId; // commits what the restored checkpoint held: skip it
                    } else {
                        System.out.println("WINDOW " + checkpointId);
                        System.out.flush();
                        Thread.sleep(30_000);
                    }
                }
            });
        }
        var source = KafkaSource.<String>builder().setBootstrapServers(bootstrap).setTopics(input)
                .setDeserializer(KafkaRecordDeserializer.strictUtf8Values()).enableDeadLetters()
                .setGroupId("torture-" + input).setPartitionDiscoveryInterval(Duration.ofSeconds(1))
                .setProperty("request.timeout.ms", "5000").setProperty("default.api.timeout.ms", "10000")
                .build();
        var lines = env.fromSource(source, "input").uid("input");
        lines.getSideOutput(KafkaSource.DEAD_LETTERS)
                .sinkTo(KafkaSink.<DeadLetter>builder().setBootstrapServers(bootstrap)
                        .setRecordSerializer(DeadLetter.toTopic(deadLetters))
                        .setTransactionalIdPrefix("torture-dlq-" + input)
                        .setProperty("request.timeout.ms", "5000").setProperty("delivery.timeout.ms", "15000")
                        .setProperty("max.block.ms", "10000").build())
                .uid("dead-letters");
        lines.flatMap(new PacedSplit()).uid("split")
                .keyBy(w -> w)
                .process(new RunningCount()).uid("count")
                .sinkTo(KafkaSink.<String>builder().setBootstrapServers(bootstrap)
                        .setRecordSerializer(line -> {
                            int comma = line.lastIndexOf(',');
                            return new ProducerRecord<>(output, line.substring(0, comma).getBytes(StandardCharsets.UTF_8),
                                    line.substring(comma + 1).getBytes(StandardCharsets.UTF_8));
                        })
                        .setTransactionalIdPrefix("torture-" + input)
                        .setProperty("request.timeout.ms", "5000").setProperty("delivery.timeout.ms", "15000")
                        .setProperty("max.block.ms", "10000").build())
                .uid("output");
        JobClient job = env.executeAsync("torture");
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                System.out.println("STOPPED after checkpoint " + job.stop(Duration.ofSeconds(60)));
            } catch (Exception e) {
                System.out.println("STOP FAILED " + e);
            }
        }));
        job.awaitTermination(null);
    }
}
