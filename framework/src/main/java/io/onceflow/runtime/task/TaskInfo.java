package io.onceflow.runtime.task;

import io.onceflow.api.CheckpointingMode;
import io.onceflow.runtime.storage.JobCheckpointStore;
import io.onceflow.runtime.fault.FaultInjector;
import java.util.OptionalLong;
import java.util.concurrent.Executor;

/** What every subtask of one job attempt shares. */
public record TaskInfo(String jobName, int attempt, CheckpointingMode mode, OptionalLong restoredCheckpointId,
                       FaultInjector faults, JobCheckpointStore store, int inlineStateThreshold,
                       Executor snapshotExecutor, TaskGateway gateway,
                       io.onceflow.runtime.metrics.MetricRegistry metrics) {
}
