package io.onceflow.api.sink;

import java.util.List;

/**
 * Implemented by a committable that refers to {@link CheckpointFiles files in checkpoint storage}: every
 * checkpoint taken while it is pending refers to them too, so they are kept until it is committed and no
 * retained checkpoint needs them any more.
 */
public interface ReferencesCheckpointFiles {

    List<CheckpointFiles.CheckpointFile> checkpointFiles();
}
