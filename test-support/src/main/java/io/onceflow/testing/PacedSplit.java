package io.onceflow.testing;

import io.onceflow.api.functions.Collector;
import io.onceflow.api.functions.FlatMapFunction;

/**
 * Splits lines on whitespace into words, sleeping 1 ms every {@code linesPerMillisecond} lines: at most
 * that many thousand lines a second per subtask, so that kills and failures land mid-run rather than
 * after the input is done.
 */
public final class PacedSplit implements FlatMapFunction<String, String> {

    private final int linesPerMillisecond;
    private long seen;

    /** About 10,000 lines a second per subtask. */
    public PacedSplit() {
        this(10);
    }

    public PacedSplit(int linesPerMillisecond) {
        if (linesPerMillisecond < 1) {
            throw new IllegalArgumentException("linesPerMillisecond must be at least 1, was " + linesPerMillisecond);
        }
        this.linesPerMillisecond = linesPerMillisecond;
    }

    @Override
    public void flatMap(String line, Collector<String> out) throws Exception {
        if (++seen % linesPerMillisecond == 0) {
            Thread.sleep(1);
        }
        for (String w : line.split("\\s+")) {
            if (!w.isEmpty()) {
                out.collect(w);
            }
        }
    }
}
