package io.onceflow.apps;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.KeyedValue;
import io.onceflow.api.functions.Collector;
import io.onceflow.api.functions.KeyedProcessFunction;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The demo end to end (its own broker, its crash, its independent check), and proof that its check can fail. */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class DemoTest {

    @Test
    void demoPassesWithTheRealCounter() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Demo.Result result = Demo.run(new Demo.Options(6_000, 2, 2_000, 3, new WordCounter()),
                new PrintStream(bytes, true, StandardCharsets.UTF_8));
        String out = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(result.passed(), out);
        assertEquals(1, result.metrics().numRestarts(), "the injected crash caused one restart:\n" + out);
        assertTrue(out.contains("injected crash"), out);
        assertTrue(out.contains("PASSED"), out);
    }

    /** Keeps counts in a field: right until the crash, then counts restart from the checkpoint's copy (zero). */
    static final class ForgetfulCounter extends KeyedProcessFunction<String, String, KeyedValue<String, Long>> {
        private final java.util.Map<String, Long> counts = new java.util.HashMap<>();

        @Override
        public void processElement(String word, Context<String> ctx, Collector<KeyedValue<String, Long>> out) {
            out.collect(new KeyedValue<>(word, counts.merge(word, 1L, Long::sum)));
        }
    }

    @Test
    void theCheckFailsWhenTheOutputIsWrong() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Demo.Result result = Demo.run(new Demo.Options(6_000, 2, 750, 2, new ForgetfulCounter()),
                new PrintStream(bytes, true, StandardCharsets.UTF_8));
        String out = bytes.toString(StandardCharsets.UTF_8);
        assertFalse(result.passed(), "a counter that loses its counts in the crash must fail the check:\n" + out);
        assertTrue(result.check().duplicates() > 0, "its restarted counts repeat values already committed:\n" + out);
        assertTrue(out.contains("FAILED"), out);
    }
}
