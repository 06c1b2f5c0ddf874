package io.onceflow.api.source;

import io.onceflow.api.serialization.VersionedSerializer;
import java.util.List;

/**
 * A factory for the readers of a parallel source. Onceflow asks the source for its initial splits
 * once, when a job starts with no checkpoint to restore, and deals them out to subtasks
 * deterministically (split {@code i} in the returned order to subtask {@code i % parallelism}). After
 * that the splits, with their positions, live in checkpoints.
 *
 * @param <T> the records produced
 * @param <SplitT> the split type
 */
public interface Source<T, SplitT extends SourceSplit> {

    Boundedness getBoundedness();

    /** All splits, at their starting positions. Called on the job's start with no checkpoint. */
    List<SplitT> createInitialSplits() throws Exception;

    SourceReader<T, SplitT> createReader(SourceReaderContext context) throws Exception;

    /** Writes splits into checkpoints. */
    VersionedSerializer<SplitT> getSplitSerializer();
}
