package io.onceflow.apps;

import io.onceflow.api.functions.MapFunction;

/** Passes lines through at most {@code perSecond} per subtask, so a demo runs long enough to watch. */
final class Pace implements MapFunction<String, String> {

    private final int perSecond;
    private transient long start;
    private transient long seen;

    Pace(int perSecond) {
        this.perSecond = perSecond;
    }

    @Override
    public String map(String line) throws Exception {
        if (start == 0) {
            start = System.nanoTime();
        }
        seen++;
        long due = start + seen * 1_000_000_000L / perSecond;
        long wait = due - System.nanoTime();
        if (wait > 1_000_000) {
            Thread.sleep(wait / 1_000_000);
        }
        return line;
    }
}
