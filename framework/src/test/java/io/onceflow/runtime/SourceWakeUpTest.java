package io.onceflow.runtime;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.CheckpointingMode;
import io.onceflow.api.JobClient;
import io.onceflow.api.RestartStrategies;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.api.source.InputStatus;
import io.onceflow.api.source.ReaderOutput;
import io.onceflow.api.source.SourceReader;
import io.onceflow.api.source.SourceReaderContext;
import io.onceflow.runtime.AlignmentTest.Split;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A checkpoint's trigger wakes a source reader that waits for input inside {@code pollNext}: here a reader that
 * emits nothing and waits up to ten minutes per call unless {@code wakeUp()} is called. Checkpoints complete
 * all the same, each after a wakeup, where without it the first would wait out the reader's ten minutes.
 */
class SourceWakeUpTest {

    static final AtomicInteger WAKEUPS = new AtomicInteger();
    static final AtomicReference<CountDownLatch> WAITING = new AtomicReference<>(new CountDownLatch(1));
    static volatile boolean open;

    @AfterEach
    void release() {
        open = false;
        WAITING.get().countDown();
    }

    @Test
    void aCheckpointWakesAReaderWaitingForInput() throws Exception {
        WAKEUPS.set(0);
        WAITING.set(new CountDownLatch(1));
        open = true;
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(1);
        env.enableCheckpointing(Duration.ofMillis(50), CheckpointingMode.EXACTLY_ONCE);
        env.getCheckpointConfig().setCheckpointStorage("memory:");
        env.setRestartStrategy(RestartStrategies.noRestart());
        env.fromSource(new IdleSource(), "idle").uid("source")
                .sinkTo(new AlignmentTest.DiscardingSink()).uid("sink");
        try (JobClient job = env.executeAsync("wake-up")) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (job.getMetrics().numberOfCompletedCheckpoints() < 3) {
                assertTrue(System.nanoTime() < deadline, "three checkpoints completed, though the reader waits ten "
                        + "minutes per poll unless woken (completed " + job.getMetrics().numberOfCompletedCheckpoints()
                        + ", wakeups " + WAKEUPS.get() + ")");
                Thread.sleep(5);
            }
            assertTrue(WAKEUPS.get() >= 3, "the reader was woken for each checkpoint: " + WAKEUPS.get());
            release();
        }
    }

    /** One split that never has input: each {@code pollNext} waits until woken (or ten minutes). */
    static final class IdleSource extends AlignmentTest.OneSplitSource {
        @Override
        public SourceReader<String, Split> createReader(SourceReaderContext context) {
            return new AlignmentTest.OneSplitReader() {
                @Override
                public InputStatus pollNext(ReaderOutput<String> output) throws Exception {
                    CountDownLatch waiting = WAITING.get();
                    if (open && waiting.await(10, TimeUnit.MINUTES) && open) {
                        WAITING.compareAndSet(waiting, new CountDownLatch(1));
                        WAKEUPS.incrementAndGet();
                    }
                    return InputStatus.NOTHING_AVAILABLE;
                }

                @Override
                public void wakeUp() {
                    WAITING.get().countDown();
                }
            };
        }
    }
}
