package io.onceflow.api;

import io.onceflow.api.source.Source;
import io.onceflow.runtime.Clock;
import io.onceflow.runtime.JobMaster;
import io.onceflow.runtime.graph.JobSpec;
import io.onceflow.runtime.graph.Transformation;
import io.onceflow.runtime.state.KeyGroups;
import io.onceflow.runtime.fault.FaultInjector;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Where a job is built and started.
 *
 * <pre>{@code
 * var env = StreamEnvironment.create();
 * env.setParallelism(2);
 * env.enableCheckpointing(Duration.ofSeconds(1));
 * env.getCheckpointConfig().setCheckpointStorage("file:///var/lib/app/checkpoints");
 * env.setRestartStrategy(RestartStrategies.fixedDelay(3, Duration.ofSeconds(10)));
 * env.fromSource(source, "lines").uid("source")
 *    .flatMap(splitWords).uid("split")
 *    .keyBy(w -> w)
 *    .process(new RunningCount()).uid("count")
 *    .sinkTo(sink).uid("sink");
 * env.execute("word-count");
 * }</pre>
 *
 * A job started with the name and checkpoint storage of an earlier run resumes from that run's latest
 * completed checkpoint (see {@link CheckpointConfig#setResumeFromLatestCheckpoint}).
 */
public final class StreamEnvironment {

    private int metricsPort = -1;
    private int readyWithinIntervals = 3;

    private final List<Transformation> transformations = new ArrayList<>();
    private final CheckpointConfig checkpointConfig = new CheckpointConfig();
    private int parallelism = 1;
    private int maxParallelism = KeyGroups.DEFAULT_MAX_PARALLELISM;
    private RestartStrategies.RestartStrategy restartStrategy;
    private FaultInjector faultInjector = FaultInjector.NONE;
    private Clock clock = Clock.SYSTEM;
    private int batchSize = 256;
    private int channelCapacity = 8;
    private StateBackend stateBackend = new HeapStateBackend();

    private StreamEnvironment() {
    }

    public static StreamEnvironment create() {
        return new StreamEnvironment();
    }

    /** The default parallelism of every operator (1 unless set). */
    public StreamEnvironment setParallelism(int parallelism) {
        if (parallelism < 1) {
            throw new IllegalArgumentException("Parallelism must be at least 1, was " + parallelism);
        }
        this.parallelism = parallelism;
        return this;
    }

    public int getParallelism() {
        return parallelism;
    }

    /**
     * The number of key groups keyed state is split into, and so the highest parallelism a keyed
     * operator can ever be restored at. Default 128. Must not change between runs of a job.
     */
    public StreamEnvironment setMaxParallelism(int maxParallelism) {
        if (maxParallelism < 1 || maxParallelism > KeyGroups.UPPER_BOUND_MAX_PARALLELISM) {
            throw new IllegalArgumentException("Max parallelism must be between 1 and "
                    + KeyGroups.UPPER_BOUND_MAX_PARALLELISM + ", was " + maxParallelism);
        }
        this.maxParallelism = maxParallelism;
        return this;
    }

    public int getMaxParallelism() {
        return maxParallelism;
    }

    /** Takes a checkpoint every {@code interval}, exactly-once. */
    public StreamEnvironment enableCheckpointing(Duration interval) {
        checkpointConfig.setCheckpointInterval(interval);
        return this;
    }

    public StreamEnvironment enableCheckpointing(Duration interval, CheckpointingMode mode) {
        checkpointConfig.setCheckpointInterval(interval);
        checkpointConfig.setCheckpointingMode(mode);
        return this;
    }

    public CheckpointConfig getCheckpointConfig() {
        return checkpointConfig;
    }

    /** Where keyed state lives while the job runs: {@link HeapStateBackend} (the default) or {@link RocksDBStateBackend}. */
    public StreamEnvironment setStateBackend(StateBackend backend) {
        this.stateBackend = Objects.requireNonNull(backend, "backend");
        if (backend instanceof RocksDBStateBackend) {
            try {
                Class.forName("org.rocksdb.RocksDB", false, StreamEnvironment.class.getClassLoader());
            } catch (ClassNotFoundException e) {
                throw new IllegalStateException("The RocksDB state backend needs the dependency org.rocksdb:rocksdbjni "
                        + "on the classpath: add it to your build (the onceflow command line has it)", e);
            }
        }
        return this;
    }

    public StateBackend getStateBackend() {
        return stateBackend;
    }

    /** See {@link RestartStrategies} for the default. */
    public StreamEnvironment setRestartStrategy(RestartStrategies.RestartStrategy strategy) {
        this.restartStrategy = Objects.requireNonNull(strategy, "strategy");
        return this;
    }

    /** For tests: fail the job on purpose at chosen points. */
    /**
     * Serves the job's metrics in the Prometheus text format at {@code http://<host>:<port>/metrics}, and
     * {@code /health} (200 while the job is alive) and {@code /health/ready} (200 while it runs and its last
     * completed checkpoint is younger than three checkpoint intervals) for liveness and readiness probes.
     * Port 0 picks a free one ({@code JobClient.getMetricsPort()}). Off by default; needs
     * {@code io.micrometer:micrometer-registry-prometheus} on the class path.
     */
    public StreamEnvironment enableMetricsEndpoint(int port) {
        return enableMetricsEndpoint(port, 3);
    }

    /** {@link #enableMetricsEndpoint(int)}, ready while the last completed checkpoint is younger than that many intervals. */
    public StreamEnvironment enableMetricsEndpoint(int port, int readyWithinIntervals) {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("The metrics port must be 0 (any free port) to 65535, was " + port);
        }
        if (readyWithinIntervals < 1) {
            throw new IllegalArgumentException("readyWithinIntervals must be at least 1, was " + readyWithinIntervals);
        }
        this.metricsPort = port;
        this.readyWithinIntervals = readyWithinIntervals;
        return this;
    }

    public StreamEnvironment setFaultInjector(FaultInjector faultInjector) {
        this.faultInjector = Objects.requireNonNull(faultInjector, "faultInjector");
        return this;
    }

    /** For tests: the clock restart strategies and checkpoint timing read. */
    public StreamEnvironment setClock(Clock clock) {
        this.clock = Objects.requireNonNull(clock, "clock");
        return this;
    }

    /**
     * Records per batch on a channel between subtasks (default 256) and batches a channel holds before
     * its producer waits (default 8). Smaller values shorten alignment under back-pressure.
     */
    public StreamEnvironment setChannelBuffers(int batchSize, int capacityInBatches) {
        if (batchSize < 1 || capacityInBatches < 1) {
            throw new IllegalArgumentException("Batch size and channel capacity must be at least 1, were "
                    + batchSize + " and " + capacityInBatches);
        }
        this.batchSize = batchSize;
        this.channelCapacity = capacityInBatches;
        return this;
    }

    public <T> DataStream<T> fromSource(Source<T, ?> source, String name) {
        Objects.requireNonNull(source, "source");
        Transformation t = Transformation.source(transformations.size(), name(name), source);
        transformations.add(t);
        return new DataStream<>(this, t, null);
    }

    Transformation add(Transformation t) {
        transformations.add(t);
        return t;
    }

    int nextId() {
        return transformations.size();
    }

    static String name(String name) {
        Objects.requireNonNull(name, "name");
        if (name.isBlank()) {
            throw new IllegalArgumentException("An operator name must not be blank");
        }
        return name;
    }

    /**
     * Runs the job and waits until it ends.
     *
     * @return the final metrics of a job that finished (bounded sources) or was cancelled
     * @throws JobExecutionException when the job failed and its restart strategy gave up
     */
    public JobMetrics execute(String jobName) throws JobExecutionException, InterruptedException {
        JobClient client = executeAsync(jobName);
        try {
            client.awaitTermination(null);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException(e);
        }
        return client.getMetrics();
    }

    /**
     * Starts the job and returns at once. Configuration problems (duplicate uids, an unwritable
     * checkpoint directory, an incompatible checkpoint) are thrown here, before anything runs.
     */
    public JobClient executeAsync(String jobName) {
        Objects.requireNonNull(jobName, "jobName");
        if (jobName.isBlank()) {
            throw new IllegalArgumentException("A job name must not be blank: it names the job's checkpoints");
        }
        RestartStrategies.RestartStrategy strategy = restartStrategy != null ? restartStrategy
                : RestartStrategies.defaultFor(checkpointConfig.isCheckpointingEnabled());
        JobSpec spec = new JobSpec(jobName, List.copyOf(transformations), parallelism, maxParallelism, checkpointConfig,
                strategy, faultInjector, clock, batchSize, channelCapacity, stateBackend, metricsPort, readyWithinIntervals);
        return JobMaster.start(spec);
    }
}
