package io.onceflow.twophase.jdbc;

import io.onceflow.api.JobMetrics;
import io.onceflow.api.RestartStrategies;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.testing.RunningCount;
import io.onceflow.testing.SequenceSource;
import io.onceflow.testing.TestDatabase;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A throttled bounded sequence → keyed running count → XA sink appending (word, n) rows to a table without a
 * unique key, with file checkpoints, as a program of its own for {@link JdbcXaSinkTest}'s kill -9 test.
 *
 * <p>Arguments: checkpoint directory, database, table, total records, keys, records per second per split.
 */
public final class XaJobMain {

    private XaJobMain() {
    }

    public static void main(String[] args) throws Exception {
        TestDatabase db = TestDatabase.valueOf(args[1]);
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(2);
        env.enableCheckpointing(Duration.ofMillis(200));
        env.getCheckpointConfig().setCheckpointStorage(Path.of(args[0]).toUri().toString());
        env.setRestartStrategy(RestartStrategies.fixedDelay(10, Duration.ofMillis(100)));
        env.fromSource(SequenceSource.bounded(4, Long.parseLong(args[3]), Integer.parseInt(args[4]))
                        .throttled(Integer.parseInt(args[5])), "sequence").uid("source")
                .keyBy(w -> w)
                .process(new RunningCount()).uid("count")
                .sinkTo(JdbcXaSinkTest.appendOnlySink(db, args[2])).uid("xa");
        JobMetrics metrics = env.execute("xa-kill");
        System.out.println("FINISHED " + metrics);
    }
}
