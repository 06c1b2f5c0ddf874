package io.onceflow.runtime.io;

/** Flows with the records; everything before it on a channel belongs to checkpoint {@code id}. */
public record CheckpointBarrier(long id, long timestamp) {
}
