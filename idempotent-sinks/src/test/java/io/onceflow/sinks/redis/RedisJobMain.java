package io.onceflow.sinks.redis;

import io.onceflow.api.JobMetrics;
import io.onceflow.api.RestartStrategies;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.kafka.source.KafkaRecordDeserializer;
import io.onceflow.kafka.source.KafkaSource;
import io.onceflow.testing.PacedSplit;
import io.onceflow.testing.RunningCount;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Kafka (bounded) → split → keyed running count → Redis {@code SET prefix+word count} with the count as
 * version, with file checkpoints, as a program of its own for {@link RedisKillDashNineTest}.
 *
 * <p>Arguments: bootstrap servers, input topic, checkpoint directory, Redis URI, key prefix.
 */
public final class RedisJobMain {

    private RedisJobMain() {
    }

    public static void main(String[] args) throws Exception {
        String prefix = args[4];
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(2);
        env.enableCheckpointing(Duration.ofMillis(200));
        env.getCheckpointConfig().setCheckpointStorage(Path.of(args[2]).toUri().toString());
        env.setRestartStrategy(RestartStrategies.fixedDelay(10, Duration.ofMillis(100)));
        env.fromSource(KafkaSource.<String>builder().setBootstrapServers(args[0]).setTopics(args[1])
                        .setDeserializer(KafkaRecordDeserializer.strictUtf8Values()).setBounded().build(), "input")
                .uid("input")
                .flatMap(new PacedSplit()).uid("split")
                .keyBy(w -> w)
                .process(new RunningCount()).uid("count")
                .sinkTo(RedisSink.<String>builder().setRedisUri(args[3]).setBatchSize(200)
                        .setMapper(line -> {
                            int comma = line.lastIndexOf(',');
                            String count = line.substring(comma + 1);
                            return RedisWrite.set(prefix + line.substring(0, comma), count).withVersion(Long.parseLong(count));
                        }).build()).uid("redis");
        JobMetrics metrics = env.execute("redis-kill");
        System.out.println("FINISHED " + metrics);
    }
}
