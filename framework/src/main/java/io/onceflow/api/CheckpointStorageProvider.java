package io.onceflow.api;

/**
 * Marker for checkpoint storage objects that can be handed to
 * {@link CheckpointConfig#setCheckpointStorage(CheckpointStorageProvider)}; the implementations live in
 * the runtime ({@code io.onceflow.runtime.storage}).
 */
public interface CheckpointStorageProvider {
}
