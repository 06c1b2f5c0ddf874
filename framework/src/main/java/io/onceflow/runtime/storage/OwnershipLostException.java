package io.onceflow.runtime.storage;

import io.onceflow.api.NonRecoverableException;

/**
 * Another instance owns the job now: this one must not write checkpoints or commit anything, and
 * stops without restarting. Also thrown when a job is started while another live instance owns it.
 */
public class OwnershipLostException extends NonRecoverableException {

    public OwnershipLostException(String message) {
        super(message);
    }

    public OwnershipLostException(String message, Throwable cause) {
        super(message, cause);
    }
}
