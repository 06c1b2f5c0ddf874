package io.onceflow.api.functions;

/** A function with a life cycle: {@link #open} before the first element, {@link #close} at the end. */
public interface RichFunction extends Function {

    default void open(RuntimeContext context) throws Exception {
    }

    default void close() throws Exception {
    }
}
