package io.onceflow.api.source;

/** Whether a source ends. A job whose sources are all bounded finishes when they end. */
public enum Boundedness { BOUNDED, CONTINUOUS_UNBOUNDED }
