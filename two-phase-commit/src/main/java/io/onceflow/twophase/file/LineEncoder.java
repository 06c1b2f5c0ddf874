package io.onceflow.twophase.file;

import java.io.Serializable;

/**
 * Turns a record into one line of a file (without the line separator). Must not return a line that
 * contains a line break. Serializable, like Onceflow's functions, and stateless: one instance serves
 * every subtask.
 */
@FunctionalInterface
public interface LineEncoder<IN> extends Serializable {

    String encode(IN value) throws Exception;
}
