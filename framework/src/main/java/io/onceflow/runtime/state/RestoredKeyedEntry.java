package io.onceflow.runtime.state;

/** One serialized key/value pair of keyed state read back from a checkpoint. */
public record RestoredKeyedEntry(int keyGroup, byte[] key, byte[] value) {
}
