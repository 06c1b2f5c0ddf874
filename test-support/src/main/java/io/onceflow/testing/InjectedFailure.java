package io.onceflow.testing;

/** The failure a test injects on purpose; recognisable in logs and assertions. */
public class InjectedFailure extends RuntimeException {

    public InjectedFailure(String message) {
        super(message);
    }
}
