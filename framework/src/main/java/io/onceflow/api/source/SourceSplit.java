package io.onceflow.api.source;

/**
 * A unit of input a source reader owns: a file, a Kafka partition. A split object carries its
 * position: the split a reader returns from {@link SourceReader#snapshotState} says where reading
 * resumes after a restore.
 */
public interface SourceSplit {

    /** A stable id, unique within the source. */
    String splitId();
}
