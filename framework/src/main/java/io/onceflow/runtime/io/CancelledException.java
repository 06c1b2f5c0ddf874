package io.onceflow.runtime.io;

/** Thrown to a task's thread when the task was cancelled while it waited on a channel. */
public final class CancelledException extends RuntimeException {

    public CancelledException() {
        super("task cancelled", null, false, false);
    }
}
