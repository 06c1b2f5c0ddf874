package io.onceflow.runtime;

import io.onceflow.api.JobMetrics;
import io.onceflow.api.RestartStrategies;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.testing.CommittedStore;
import io.onceflow.testing.RunningCount;
import io.onceflow.testing.SequenceSource;
import io.onceflow.testing.TransactionalTestSink;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The keyed running count as a program of its own, for {@link KillDashNineTest}: checkpoints to a
 * directory and commits to files, so a {@code kill -9} can hit it anywhere and a new process resumes.
 *
 * <p>Arguments: checkpoint dir, output dir, total records, keys, parallelism, records per second per split.
 */
public final class CountJobMain {

    private CountJobMain() {
    }

    public static void main(String[] args) throws Exception {
        Path checkpoints = Path.of(args[0]);
        Path output = Path.of(args[1]);
        long total = Long.parseLong(args[2]);
        int keys = Integer.parseInt(args[3]);
        int parallelism = Integer.parseInt(args[4]);
        int rate = Integer.parseInt(args[5]);

        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(parallelism);
        env.enableCheckpointing(Duration.ofMillis(200));
        env.getCheckpointConfig().setCheckpointStorage(checkpoints.toUri().toString());
        env.setRestartStrategy(RestartStrategies.fixedDelay(3, Duration.ofMillis(100)));
        env.fromSource(SequenceSource.bounded(4, total, keys).throttled(rate), "sequence").uid("source")
                .keyBy(w -> w)
                .process(new RunningCount()).uid("count")
                .sinkTo(new TransactionalTestSink(CommittedStore.inDirectory(output))).uid("sink");
        JobMetrics metrics = env.execute("count");
        System.out.println("FINISHED " + metrics);
    }
}
