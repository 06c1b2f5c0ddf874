package io.onceflow.kafka.sink;

import io.onceflow.api.JobMetrics;
import io.onceflow.api.StreamEnvironment;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The Kafka count pipeline as a program of its own, for {@link KafkaKillDashNineTest}: file-system
 * checkpoints, so a new process resumes after {@code kill -9}.
 *
 * <p>Arguments: bootstrap servers, input topic, output topic, checkpoint directory, parallelism.
 */
public final class KafkaCountJobMain {

    private KafkaCountJobMain() {
    }

    public static void main(String[] args) throws Exception {
        StreamEnvironment env = CountPipeline.build(args[0], args[1], args[2], Integer.parseInt(args[4]),
                DeliveryGuarantee.EXACTLY_ONCE, "kill-" + args[2], Duration.ofMillis(200));
        env.getCheckpointConfig().setCheckpointStorage(Path.of(args[3]).toUri().toString());
        JobMetrics metrics = env.execute("kafka-count");
        System.out.println("FINISHED " + metrics);
    }
}
