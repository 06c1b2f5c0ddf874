package io.onceflow.runtime.graph;

import io.onceflow.api.CheckpointConfig;
import io.onceflow.api.RestartStrategies;
import io.onceflow.runtime.Clock;
import io.onceflow.runtime.fault.FaultInjector;
import java.util.List;

/** Everything a job run needs, as the API built it. */
public record JobSpec(String jobName, List<Transformation> transformations, int defaultParallelism,
                      int maxParallelism, CheckpointConfig checkpointConfig,
                      RestartStrategies.RestartStrategy restartStrategy, FaultInjector faults, Clock clock,
                      int batchSize, int channelCapacity, io.onceflow.api.StateBackend stateBackend,
                      int metricsPort, int readyWithinIntervals) {
}
