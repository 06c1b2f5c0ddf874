package io.onceflow.sinks.jdbc;

import io.onceflow.api.JobMetrics;
import io.onceflow.api.RestartStrategies;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.kafka.source.KafkaRecordDeserializer;
import io.onceflow.kafka.source.KafkaSource;
import io.onceflow.testing.PacedSplit;
import io.onceflow.testing.RunningCount;
import io.onceflow.testing.TestDatabase;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Kafka (bounded) → split → keyed running count → JDBC upsert into a (word, count) table, with file
 * checkpoints, as a program of its own for {@link JdbcUpsertKillDashNineTest}.
 *
 * <p>Arguments: bootstrap servers, input topic, checkpoint directory, database ({@code POSTGRESQL} or
 * {@code MARIADB}), table.
 */
public final class UpsertJobMain {

    private UpsertJobMain() {
    }

    public static void main(String[] args) throws Exception {
        TestDatabase db = TestDatabase.valueOf(args[3]);
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
                .sinkTo(CountsTable.sink(db, args[4]).setVersionColumn("count").setBatchSize(200).build()).uid("upsert");
        JobMetrics metrics = env.execute("upsert-kill");
        System.out.println("FINISHED " + metrics);
    }
}
