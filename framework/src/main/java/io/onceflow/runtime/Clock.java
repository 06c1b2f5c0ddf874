package io.onceflow.runtime;

/** Wall-clock milliseconds; injected so tests can move time by hand. */
@FunctionalInterface
public interface Clock {

    Clock SYSTEM = System::currentTimeMillis;

    long millis();
}
