package io.onceflow.api.source;

/** What {@link SourceReader#pollNext} says about the reader after a call. */
public enum InputStatus {
    /** More records are available at once: call again. */
    MORE_AVAILABLE,
    /** Nothing now; the runtime waits briefly (handling checkpoints) and calls again. */
    NOTHING_AVAILABLE,
    /** The reader has read all its splits to their end; it is not called again. */
    END_OF_INPUT
}
