package io.onceflow.api;

/**
 * The life cycle of a job run.
 *
 * <pre>
 *  CREATED ─▶ RUNNING ─┬─▶ FINISHED   (bounded sources ended; final checkpoint committed)
 *               ▲      ├─▶ RESTARTING ─▶ RUNNING   (failure; restart strategy allowed it)
 *               │      ├─▶ FAILED     (failure; restart strategy gave up)
 *               │      └─▶ CANCELED   (cancel() or stop())
 * </pre>
 */
public enum JobStatus {
    CREATED, RUNNING, RESTARTING, FINISHED, FAILED, CANCELED;

    public boolean isTerminal() {
        return this == FINISHED || this == FAILED || this == CANCELED;
    }
}
