package io.onceflow.runtime.io;

/**
 * The upstream subtask's input has ended; no record follows on this channel. Barriers still do: a
 * finished source keeps taking part in checkpoints until the final one.
 */
public final class EndOfPartition {

    public static final EndOfPartition INSTANCE = new EndOfPartition();

    private EndOfPartition() {
    }

    @Override
    public String toString() {
        return "EndOfPartition";
    }
}
