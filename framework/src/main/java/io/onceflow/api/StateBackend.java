package io.onceflow.api;

/**
 * Where a job keeps its keyed state while it runs, chosen per job with
 * {@link StreamEnvironment#setStateBackend}:
 * <ul>
 * <li>{@link HeapStateBackend} (the default): Java objects on the heap. Fastest; the state must fit in
 * the heap.</li>
 * <li>{@link RocksDBStateBackend}: serialized, in an embedded RocksDB on local disk, one per operator
 * subtask. State far larger than the heap; every access (de)serializes.</li>
 * </ul>
 * Checkpoints of both hold the same format, so a job can switch backends between runs.
 */
public sealed interface StateBackend permits HeapStateBackend, RocksDBStateBackend {

    /** A short name for messages and the command line: {@code heap} or {@code rocksdb}. */
    String name();
}
