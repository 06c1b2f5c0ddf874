package io.onceflow.testing;

import java.util.HashMap;
import java.util.Map;
import java.util.Random;

/**
 * Word-count input text for benchmarks and tests: lines of 3 to 6 words drawn from a vocabulary ({@code w}
 * and a number in base 36), the same for a given seed, counting how often each word was drawn — what every
 * word's running count must end at. Used by one thread at a time.
 */
public final class RandomLines {
    private final Random random;
    private final int vocabulary;
    private final Map<String, Long> counts = new HashMap<>();
    private final StringBuilder line = new StringBuilder();
    private long words;

    public RandomLines(int vocabulary, long seed) {
        this.random = new Random(seed);
        this.vocabulary = vocabulary;
    }

    /** The next line. */
    public String next() {
        line.setLength(0);
        int n = 3 + random.nextInt(4);
        for (int w = 0; w < n; w++) {
            String word = "w" + Integer.toString(random.nextInt(vocabulary), 36);
            counts.merge(word, 1L, Long::sum);
            line.append(w == 0 ? "" : " ").append(word);
        }
        words += n;
        return line.toString();
    }

    /** How often each word was drawn so far. */
    public Map<String, Long> counts() {
        return counts;
    }

    /** How many words were drawn so far. */
    public long words() {
        return words;
    }
}
