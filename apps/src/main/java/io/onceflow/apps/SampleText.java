package io.onceflow.apps;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** A deterministic sample text: lines of words drawn with a skewed (Zipf-like) frequency, as real text has. */
final class SampleText {

    private static final String[] WORDS = ("the of and to in a is that for it as was with be by on not he i this are or "
            + "his from at which but have an they you were her she there been one all we their has would when what "
            + "if no more so said who will about can up out them time into only some could new other then two "
            + "first any these may like now over such our over man me even most made after also did many before "
            + "must through back years where much your way well down should because each just those people how "
            + "too little state good very make world still own see men work long get here between both life being "
            + "under never day same another know while last might us great old year off come since against go "
            + "came right used take three kafka stream checkpoint barrier state exactly once commit transaction "
            + "offset partition broker consumer producer operator restore snapshot recovery").split(" ");

    final List<String> lines;
    final Map<String, Long> counts;
    final long words;

    private SampleText(List<String> lines, Map<String, Long> counts, long words) {
        this.lines = lines;
        this.counts = counts;
        this.words = words;
    }

    static SampleText generate(int lineCount, long seed) {
        Random random = new Random(seed);
        double[] cumulative = new double[WORDS.length];
        double sum = 0;
        for (int i = 0; i < WORDS.length; i++) {
            sum += 1.0 / (i + 1);
            cumulative[i] = sum;
        }
        List<String> lines = new ArrayList<>(lineCount);
        Map<String, Long> counts = new HashMap<>();
        long words = 0;
        StringBuilder line = new StringBuilder();
        for (int l = 0; l < lineCount; l++) {
            line.setLength(0);
            int n = 6 + random.nextInt(7);
            for (int w = 0; w < n; w++) {
                double x = random.nextDouble() * sum;
                int i = 0;
                while (cumulative[i] < x) {
                    i++;
                }
                if (w > 0) {
                    line.append(' ');
                }
                line.append(WORDS[i]);
                counts.merge(WORDS[i], 1L, Long::sum);
                words++;
            }
            lines.add(line.toString());
        }
        return new SampleText(lines, counts, words);
    }
}
