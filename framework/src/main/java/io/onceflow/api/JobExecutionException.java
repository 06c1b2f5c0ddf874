package io.onceflow.api;

/** The job failed and its restart strategy gave up, or it could not start. The cause says why. */
public class JobExecutionException extends Exception {

    public JobExecutionException(String message, Throwable cause) {
        super(message, cause);
    }
}
