package io.onceflow.runtime.storage;

/** Where one subtask's state bytes of a checkpoint are: inside the metadata, or in a file beside it. */
public sealed interface StateHandle permits StateHandle.Inline, StateHandle.InFile {

    long size();

    /** Small state, stored inside the checkpoint's metadata. */
    record Inline(byte[] data) implements StateHandle {
        @Override
        public long size() {
            return data.length;
        }
    }

    /** State in its own file, at {@code path} relative to the job's checkpoint directory. */
    record InFile(String path, long size) implements StateHandle {
    }
}
