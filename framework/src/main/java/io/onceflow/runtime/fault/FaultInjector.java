package io.onceflow.runtime.fault;

/**
 * The runtime's fault-point SPI: the runtime calls {@link #at} at each of the dangerous moments named
 * by {@link FaultPoint}, and an injector may throw there to make the job fail exactly as a crash at
 * that moment would. Tests (and the demo) install one with {@code StreamEnvironment.setFaultInjector};
 * production jobs run with {@link #NONE}.
 *
 * <h2>Calls</h2>
 * <ul>
 * <li>Subtask points ({@code BEFORE_SNAPSHOT}, {@code AFTER_SNAPSHOT}, {@code DURING_NOTIFY},
 * {@code BEFORE_COMMIT}, {@code AFTER_COMMIT}) are called on the subtask's own thread, once per
 * operator of its chain (the sink operator only for the commit points).</li>
 * <li>{@code AFTER_CHECKPOINT_COMPLETE_BEFORE_NOTIFY} is called on the checkpoint coordinator's thread,
 * with the coordinator's lock held, with {@code operatorUid} null and {@code subtask} -1.</li>
 * </ul>
 * Calls come from several threads at once: implementations must be thread-safe. Throwing fails the
 * current job attempt (its restart strategy decides what follows); returning normally lets the
 * runtime go on. Blocking stalls the runtime at that moment (a test can then kill the process there).
 */
@FunctionalInterface
public interface FaultInjector {

    /** Never injects anything: the default. */
    FaultInjector NONE = (point, operatorUid, subtask, checkpointId) -> {
    };

    /**
     * @param operatorUid the operator at the point, or null for the coordinator
     * @param subtask the subtask index, or -1 for the coordinator
     * @param checkpointId the checkpoint the moment belongs to
     */
    void at(FaultPoint point, String operatorUid, int subtask, long checkpointId) throws Exception;
}
