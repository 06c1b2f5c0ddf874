package io.onceflow.api;

/**
 * A failure that a restart cannot fix: a restarted job would run into it again (an incompatible
 * checkpoint, a transaction the external system already aborted, a flood of bad records, another
 * process owning the job). When one is anywhere in a failure's cause chain the job stops at once,
 * whatever its restart strategy, instead of restarting in a loop. The message should say what was
 * lost, if anything, and what the user can do.
 */
public class NonRecoverableException extends RuntimeException {

    public NonRecoverableException(String message) {
        super(message);
    }

    public NonRecoverableException(String message, Throwable cause) {
        super(message, cause);
    }

    /** Whether {@code failure} or one of its causes is non-recoverable. */
    public static boolean isIn(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof NonRecoverableException) {
                return true;
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return false;
    }

    /** The first non-recoverable exception in the cause chain of {@code failure}, or {@code failure} itself. */
    public static Throwable find(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof NonRecoverableException) {
                return t;
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return failure;
    }
}
