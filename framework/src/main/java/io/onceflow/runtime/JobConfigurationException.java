package io.onceflow.runtime;

/**
 * A problem no restart can fix (an incompatible checkpoint, a misconfigured operator): the job
 * fails at once instead of consulting its restart strategy.
 */
public class JobConfigurationException extends io.onceflow.api.NonRecoverableException {

    public JobConfigurationException(String message) {
        super(message);
    }

    public JobConfigurationException(String message, Throwable cause) {
        super(message, cause);
    }
}
