package io.onceflow.testing;

/**
 * Makes a job fail at chosen {@link FaultPoint}s, for tests of recovery: install with
 * {@code StreamEnvironment.setFaultInjector}. Called on the thread at the fault point; throwing
 * fails the job attempt (the restart strategy then decides). Must be thread-safe.
 */
@FunctionalInterface
public interface FaultInjector {

    FaultInjector NONE = (point, operatorUid, subtask, checkpointId) -> {
    };

    /**
     * @param operatorUid the operator at the point, or null for the coordinator
     * @param subtask the subtask index, or -1 for the coordinator
     */
    void at(FaultPoint point, String operatorUid, int subtask, long checkpointId) throws Exception;
}
