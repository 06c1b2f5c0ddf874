/**
 * Exactly-once sinks by two-phase commit, bound to Onceflow's checkpoints.
 *
 * <p>{@link io.onceflow.twophase.TwoPhaseCommitSink} is the template: it runs the protocol (a
 * transaction per checkpoint, pre-committed at the barrier, committed when the checkpoint completes,
 * recovered on restore). A {@link io.onceflow.twophase.TransactionHandler} plugs in the external
 * system. {@link io.onceflow.twophase.file.TransactionalFileSink} is the reference implementation on
 * files.
 *
 * <p>What a reader of the external system sees: only records of transactions whose checkpoint
 * completed, each exactly once, provided the handler's commit is idempotent and its pre-commit durable.
 */
package io.onceflow.twophase;
