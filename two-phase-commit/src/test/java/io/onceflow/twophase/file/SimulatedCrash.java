package io.onceflow.twophase.file;

/**
 * A crash of the process, thrown at a chosen step: an {@link Error}, so no code under test catches it
 * and nothing after it runs, as with {@code kill -9}.
 */
final class SimulatedCrash extends Error {

    SimulatedCrash(String where) {
        super("simulated crash " + where, null, false, false);
    }
}
