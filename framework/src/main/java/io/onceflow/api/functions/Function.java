package io.onceflow.api.functions;

/**
 * Base of every user function. Functions are serializable (lambdas too, through this interface):
 * every parallel subtask of every run gets its own copy, made when the job is deployed, so fields of a
 * function are never shared between subtasks. Whatever a function captures must be serializable.
 * Functions may additionally implement {@link RichFunction} to get
 * {@code open}/{@code close} and a {@link RuntimeContext}, and {@link CheckpointListener} to hear
 * about completed checkpoints.
 *
 * <p>A restart deploys fresh copies: keep what must survive a failure in Onceflow state, not in fields.
 */
public interface Function extends java.io.Serializable {
}
