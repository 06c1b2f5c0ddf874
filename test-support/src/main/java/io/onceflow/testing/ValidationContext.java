package io.onceflow.testing;

import io.onceflow.api.CheckpointConfig;
import io.onceflow.api.ValidatesConfiguration;
import java.util.HashMap;
import java.util.Map;

/**
 * What a job gives an operator's {@link ValidatesConfiguration#validate} check, for calling a check directly in a
 * test: one operator of a job, no side outputs read.
 *
 * @param shared the map that the job's checks share (give two checks the same one to find conflicts between them)
 */
public record ValidationContext(String jobName, String operatorUid, int parallelism, CheckpointConfig checkpointConfig,
                                Map<String, Object> shared) implements ValidatesConfiguration.Context {

    /** A check of operator {@code operatorUid} at parallelism 1, with a map of its own. */
    public static ValidationContext of(String jobName, String operatorUid, CheckpointConfig checkpointConfig) {
        return new ValidationContext(jobName, operatorUid, 1, checkpointConfig, new HashMap<>());
    }
}
