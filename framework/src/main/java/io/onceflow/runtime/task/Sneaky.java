package io.onceflow.runtime.task;

/** Rethrows a checked exception through interfaces that do not declare it (collectors in a chain). */
final class Sneaky {

    private Sneaky() {
    }

    @SuppressWarnings("unchecked")
    static <E extends Throwable> RuntimeException rethrow(Throwable t) throws E {
        throw (E) t;
    }
}
