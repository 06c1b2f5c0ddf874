package io.onceflow.api.sink;

import io.onceflow.api.serialization.VersionedSerializer;

/**
 * Mix-in for a {@link Sink} whose writer is a {@link CommittingSinkWriter}. The committables a
 * writer returns at checkpoint {@code n} are stored in checkpoint {@code n} and committed when it
 * completes; on restore, committables found in the restored checkpoint are committed again before
 * anything else, so commits must be idempotent.
 */
public interface SupportsCommitter<C> {

    Committer<C> createCommitter(SinkInitContext context) throws Exception;

    VersionedSerializer<C> getCommittableSerializer();
}
