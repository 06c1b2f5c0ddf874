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
 * <p>Arguments: checkpoint dir (or a URI such as hdfs://…), output dir, total records, keys, parallelism,
 * records per second per split, and optionally {@code rocksdb:<local dir>}.
 */
public final class CountJobMain {

    private CountJobMain() {
    }

    public static void main(String[] args) throws Exception {
        Path checkpoints = args[0].contains("://") ? null : Path.of(args[0]);
        Path output = Path.of(args[1]);
        long total = Long.parseLong(args[2]);
        int keys = Integer.parseInt(args[3]);
        int parallelism = Integer.parseInt(args[4]);
        int rate = Integer.parseInt(args[5]);

        boolean uri = args[0].contains("://");
        StreamEnvironment env = build(uri ? null : checkpoints, output, total, keys, parallelism, rate);
        if (uri) {
            env.getCheckpointConfig().setCheckpointStorage(args[0]);
        }
        if (args.length > 6 && args[6].startsWith("rocksdb:")) {
            env.setStateBackend(io.onceflow.api.RocksDBStateBackend.create().withLocalDirectory(Path.of(args[6].substring(8))));
        }
        JobMetrics metrics = env.execute("count");
        System.out.println("FINISHED " + metrics);
    }

    /** The job, also for tests that run it in their own JVM beside a child running it (job name "count"). */
    static StreamEnvironment build(Path checkpoints, Path output, long total, int keys, int parallelism, int rate) {
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(parallelism);
        env.enableCheckpointing(Duration.ofMillis(200));
        if (checkpoints != null) {
            env.getCheckpointConfig().setCheckpointStorage(checkpoints.toUri().toString());
        }
        env.setRestartStrategy(RestartStrategies.fixedDelay(3, Duration.ofMillis(100)));
        env.fromSource(SequenceSource.bounded(4, total, keys).throttled(rate), "sequence").uid("source")
                .keyBy(w -> w)
                .process(new RunningCount()).uid("count")
                .sinkTo(new TransactionalTestSink(CommittedStore.inDirectory(output))).uid("sink");
        return env;
    }
}
