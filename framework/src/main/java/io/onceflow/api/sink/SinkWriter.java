package io.onceflow.api.sink;

/**
 * Writes the records of one sink subtask. Called on the subtask's thread only.
 */
public interface SinkWriter<T> extends AutoCloseable {

    void write(T element) throws Exception;

    /**
     * Called at every checkpoint barrier before the snapshot ({@code endOfInput=false}) and once at
     * the end of a bounded input ({@code true}). An at-least-once writer must make everything written
     * so far durable here.
     */
    default void flush(boolean endOfInput) throws Exception {
    }

    @Override
    default void close() throws Exception {
    }
}
