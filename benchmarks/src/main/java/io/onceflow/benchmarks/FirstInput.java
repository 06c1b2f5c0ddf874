package io.onceflow.benchmarks;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The one thing a system under test reports about itself: when its first input line arrived, as a line
 * {@code FIRST_INPUT <epoch ms>} on standard output. Everything else is measured from outside.
 */
final class FirstInput {
    static final String MARKER = "FIRST_INPUT ";
    private static final AtomicBoolean SEEN = new AtomicBoolean();

    private FirstInput() {
    }

    static void mark() {
        if (!SEEN.get() && SEEN.compareAndSet(false, true)) {
            System.out.println(MARKER + System.currentTimeMillis());
            System.out.flush();
        }
    }

    /** The job's words: the input lines are words separated by single spaces (the same rule in every system). */
    static void split(String line, java.util.function.Consumer<String> out) {
        int start = 0;
        for (int i = 0; i <= line.length(); i++) {
            if (i == line.length() || line.charAt(i) == ' ') {
                if (i > start) {
                    out.accept(line.substring(start, i));
                }
                start = i + 1;
            }
        }
    }
}
