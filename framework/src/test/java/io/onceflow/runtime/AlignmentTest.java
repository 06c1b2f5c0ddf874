package io.onceflow.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.CheckpointingMode;
import io.onceflow.api.JobClient;
import io.onceflow.api.RestartStrategies;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.api.functions.Collector;
import io.onceflow.api.functions.ProcessFunction;
import io.onceflow.api.serialization.VersionedSerializer;
import io.onceflow.api.sink.Sink;
import io.onceflow.api.sink.SinkWriter;
import io.onceflow.api.source.Boundedness;
import io.onceflow.api.source.InputStatus;
import io.onceflow.api.source.ReaderOutput;
import io.onceflow.api.source.Source;
import io.onceflow.api.source.SourceReader;
import io.onceflow.api.source.SourceReaderContext;
import io.onceflow.api.source.SourceSplit;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Two source subtasks feed one downstream subtask. Source 1 is stuck inside its reader, so it cannot
 * emit barrier 1; source 0 emits barrier 1 and keeps producing. In EXACTLY_ONCE mode the downstream
 * task must hold source 0's input back until barrier 1 arrives from source 1 too; in AT_LEAST_ONCE it
 * must not.
 */
class AlignmentTest {

    /** Records source 0 emitted after it took its snapshot for checkpoint 1. */
    static final AtomicInteger EMITTED_AFTER_BARRIER = new AtomicInteger();
    /** Of those, how many the downstream operator processed. */
    static final AtomicInteger PROCESSED_AFTER_BARRIER = new AtomicInteger();
    static volatile CountDownLatch release = new CountDownLatch(1);
    static volatile boolean snapshotTaken;

    @AfterEach
    void reset() {
        release.countDown();
    }

    @Test
    void exactlyOnceHoldsBackTheInputThatDeliveredTheBarrier() throws Exception {
        run(CheckpointingMode.EXACTLY_ONCE, (emitted, processed) -> {
            assertTrue(emitted >= 50, "source 0 kept producing after its barrier: " + emitted);
            assertEquals(0, processed, "records after barrier 1 were processed before alignment completed");
        });
    }

    @Test
    void atLeastOnceDoesNotHoldBackAnyInput() throws Exception {
        run(CheckpointingMode.AT_LEAST_ONCE, (emitted, processed) ->
                assertTrue(processed > 0, "without alignment records after the barrier flow on; processed " + processed));
    }

    interface Check {
        void verify(int emittedAfterBarrier, int processedAfterBarrier);
    }

    private void run(CheckpointingMode mode, Check check) throws Exception {
        EMITTED_AFTER_BARRIER.set(0);
        PROCESSED_AFTER_BARRIER.set(0);
        snapshotTaken = false;
        release = new CountDownLatch(1);

        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(2);
        env.enableCheckpointing(Duration.ofMillis(50), mode);
        env.getCheckpointConfig().setCheckpointStorage("memory:"); // repeats output only after a process restart
        env.setRestartStrategy(RestartStrategies.noRestart());
        env.setChannelBuffers(1, 1000);
        env.fromSource(new TwoSplitSource(), "two-splits").uid("source")
                .rebalance()
                .process(new CountAfterBarrier()).uid("observe").setParallelism(1)
                .sinkTo(new DiscardingSink()).uid("sink").setParallelism(1);
        try (JobClient job = env.executeAsync("alignment-" + mode)) {
            await(() -> EMITTED_AFTER_BARRIER.get() >= 100, "source 0 emitted 100 records after its barrier");
            Thread.sleep(100);
            check.verify(EMITTED_AFTER_BARRIER.get(), PROCESSED_AFTER_BARRIER.get());
            release.countDown();
            await(() -> job.getMetrics().numberOfCompletedCheckpoints() >= 1, "checkpoint 1 completed after the release");
            await(() -> PROCESSED_AFTER_BARRIER.get() >= 100, "the held-back records were processed after alignment");
        }
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Thread.sleep(5);
        }
    }

    static final class CountAfterBarrier extends ProcessFunction<String, String> {
        @Override
        public void processElement(String value, Collector<String> out) {
            if (value.startsWith("after-")) {
                PROCESSED_AFTER_BARRIER.incrementAndGet();
            }
            out.collect(value);
        }
    }

    static final class DiscardingSink implements Sink<String> {
        @Override
        public SinkWriter<String> createWriter(io.onceflow.api.sink.SinkInitContext context) {
            return element -> {
            };
        }
    }

    record Split(int index) implements SourceSplit {
        @Override
        public String splitId() {
            return "split-" + index;
        }
    }

    /** An unbounded source of split 0 alone, read by the reader {@link #createReader} makes. */
    abstract static class OneSplitSource implements Source<String, Split> {
        @Override
        public Boundedness getBoundedness() {
            return Boundedness.CONTINUOUS_UNBOUNDED;
        }

        @Override
        public List<Split> createInitialSplits() {
            return List.of(new Split(0));
        }

        @Override
        public VersionedSerializer<Split> getSplitSerializer() {
            return splitSerializer();
        }
    }

    /** A reader of one split, which is its whole position. */
    abstract static class OneSplitReader implements SourceReader<String, Split> {
        private Split split;

        @Override
        public void addSplits(List<Split> splits) {
            split = splits.get(0);
        }

        @Override
        public List<Split> snapshotState(long checkpointId) {
            return List.of(split);
        }
    }

    /** Split 0 emits a record per millisecond; split 1 emits one record, then blocks until released. */
    static final class TwoSplitSource implements Source<String, Split> {
        @Override
        public Boundedness getBoundedness() {
            return Boundedness.CONTINUOUS_UNBOUNDED;
        }

        @Override
        public List<Split> createInitialSplits() {
            return List.of(new Split(0), new Split(1));
        }

        @Override
        public SourceReader<String, Split> createReader(SourceReaderContext context) {
            return new SourceReader<>() {
                private Split split;
                private long n;

                @Override
                public void addSplits(List<Split> splits) {
                    split = splits.get(0);
                }

                @Override
                public InputStatus pollNext(ReaderOutput<String> output) throws Exception {
                    if (split.index() == 1) {
                        if (n++ == 0) {
                            output.collect("from-1");
                            return InputStatus.MORE_AVAILABLE;
                        }
                        release.await();
                        Thread.sleep(1);
                        return InputStatus.NOTHING_AVAILABLE;
                    }
                    Thread.sleep(1);
                    if (snapshotTaken) {
                        EMITTED_AFTER_BARRIER.incrementAndGet();
                        output.collect("after-" + n++);
                    } else {
                        output.collect("before-" + n++);
                    }
                    return InputStatus.MORE_AVAILABLE;
                }

                @Override
                public List<Split> snapshotState(long checkpointId) {
                    if (split.index() == 0 && checkpointId == 1) {
                        snapshotTaken = true;
                    }
                    return List.of(split);
                }
            };
        }

        @Override
        public VersionedSerializer<Split> getSplitSerializer() {
            return splitSerializer();
        }
    }

    static VersionedSerializer<Split> splitSerializer() {
        return new VersionedSerializer<>() {
            @Override
            public int getVersion() {
                return 1;
            }

            @Override
            public byte[] serialize(Split value) {
                return ByteBuffer.allocate(4).putInt(value.index()).array();
            }

            @Override
            public Split deserialize(int version, byte[] serialized) {
                return new Split(ByteBuffer.wrap(serialized).getInt());
            }
        };
    }
}
