package io.onceflow.apps;

import io.onceflow.api.functions.Collector;
import io.onceflow.api.functions.FlatMapFunction;

/** Splits a line on whitespace into words. */
final class SplitWords implements FlatMapFunction<String, String> {

    @Override
    public void flatMap(String line, Collector<String> out) {
        if (line == null) {
            return;
        }
        int start = -1;
        for (int i = 0; i <= line.length(); i++) {
            boolean space = i == line.length() || Character.isWhitespace(line.charAt(i));
            if (space) {
                if (start >= 0) {
                    out.collect(line.substring(start, i));
                    start = -1;
                }
            } else if (start < 0) {
                start = i;
            }
        }
    }
}
