package io.onceflow.wal.jdbc;

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
 * Kafka (bounded) → split → keyed running count → JDBC write-ahead sink appending (word, n) rows to a table
 * without a unique key, with file checkpoints, as a program of its own for
 * {@link JdbcWriteAheadKillDashNineTest}.
 *
 * <p>Arguments: bootstrap servers, input topic, checkpoint directory, database ({@code POSTGRESQL} or
 * {@code MARIADB}), table, commit table, spill directory.
 */
public final class WalJobMain {

    private WalJobMain() {
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
                .sinkTo(JdbcWriteAheadSink.builder(io.onceflow.api.serialization.Serializers.STRING)
                        .setJdbcUrl(db.url()).setUsername(db.user()).setPassword(db.password())
                        .setSql("INSERT INTO " + args[4] + " (word, n) VALUES (?, ?)")
                        .setStatementBuilder((ps, line) -> {
                            int comma = line.lastIndexOf(',');
                            ps.setString(1, line.substring(0, comma));
                            ps.setLong(2, Long.parseLong(line.substring(comma + 1)));
                        })
                        .setCommitTable(args[5])
                        .setSpillDirectory(Path.of(args[6]))
                        .build()).uid("wal");
        JobMetrics metrics = env.execute("wal-kill");
        System.out.println("FINISHED " + metrics);
    }
}
