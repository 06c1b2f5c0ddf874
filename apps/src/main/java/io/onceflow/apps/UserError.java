package io.onceflow.apps;

/** A problem with the user's input or environment, reported as one line and exit code 1. */
final class UserError extends RuntimeException {

    UserError(String message) {
        super(message);
    }

    UserError(String message, Throwable cause) {
        super(message, cause);
    }
}
